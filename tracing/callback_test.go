package tracing_test

import (
	"context"
	"testing"

	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// A callback continues the trace of the task whose settlement enqueued it:
// its process span is the child of that task's.
func TestCallbackContinuesTheTrace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	parent := tasks.Define[Args]("trace.cb")
	notify := tasks.Define[struct{}]("trace.cb.done")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, parent, func(ctx context.Context, tk *tasks.Task[Args]) error { return nil })
	tasks.MustHandle(reg, notify, func(ctx context.Context, tk *tasks.Task[struct{}]) error { return nil })
	b.startWorker(t, reg)
	if _, err := producer.Enqueue(context.Background(), b.p, parent, Args{N: 1}, producer.OnSuccess(notify)); err != nil {
		t.Fatal(err)
	}
	const parentSpan, callbackSpan = "process jetq.task.default.trace.cb", "process jetq.task.default.trace.cb.done"
	spans := b.waitSpans(t, countNamed(callbackSpan, 1))
	ps, cs := named(spans, parentSpan), named(spans, callbackSpan)
	if len(ps) != 1 {
		t.Fatalf("%d spans %q, want 1", len(ps), parentSpan)
	}
	p, c := ps[0].SpanContext(), cs[0]
	if c.SpanContext().TraceID() != p.TraceID() || c.Parent().SpanID() != p.SpanID() {
		t.Errorf("callback span in trace %s under %s, want trace %s under the task's process span %s",
			c.SpanContext().TraceID(), c.Parent().SpanID(), p.TraceID(), p.SpanID())
	}
}
