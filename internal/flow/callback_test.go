package flow

import (
	"context"
	"testing"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

func TestHas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		h    tasks.Header
		want bool
	}{
		{tasks.Header{wire.HeaderMsgID: {"a"}}, false},
		{tasks.Header{wire.HeaderOnSuccess: {"default a.b application/json"}}, true},
		{tasks.Header{wire.HeaderOnFailure: {"default a.b application/json"}}, true},
		{tasks.Header{wire.HeaderWorkflow: {"w"}, wire.HeaderStep: {"s"}}, true},
		{tasks.Header{wire.HeaderWorkflow: {"w"}}, false}, // a workflow's failure callback is no step
		{nil, false},
	} {
		if got := Has(tc.h); got != tc.want {
			t.Errorf("Has(%v) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

// BenchmarkHasPlainTask is what a settlement of a task with no follow-ups
// pays for the check: the header of a traced task, with no callback.
//
//	go test -run '^$' -bench HasPlainTask ./internal/flow/
func BenchmarkHasPlainTask(b *testing.B) {
	h := tasks.Header{
		wire.HeaderMsgID: {"01a25165-c9b5-71f3-98c4-0bc4a5a8ec8f"},
		"traceparent":    {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
	n := 0
	for b.Loop() {
		if Has(h) {
			n++
		}
	}
	if n != 0 {
		b.Fatal("a plain task has follow-ups")
	}
}

func TestContinueTraceWithoutASpanCopiesTheTasks(t *testing.T) {
	t.Parallel()
	from := tasks.Header{
		"traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"tracestate":  {"vendor=1"},
		"baggage":     {"tenant=acme"},
		"X-Other":     {"not copied"},
	}
	to := tasks.Header{}
	continueTrace(context.Background(), from, to)
	if len(to) != 3 || to.Get("traceparent") != from.Get("traceparent") || to.Get("tracestate") != "vendor=1" ||
		to.Get("baggage") != "tenant=acme" {
		t.Errorf("header %v, want the trace context and baggage of %v", to, from)
	}
}
