package workflow_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
	"github.com/jetq/jetq/workflow"
)

func TestAWorkflowIsOneTraceTree(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	b := setup(t, producer.WithMiddleware(tracing.Producer(tracing.WithTracerProvider(tp), tracing.WithPropagators(propagation.TraceContext{}))))
	def := tasks.Define[int]("wf.traced")
	tasks.MustHandle(b.reg, def, func(context.Context, *tasks.Task[int]) error { return nil })
	b.worker(t, consumer.WithMiddleware(tracing.Consumer(tracing.WithTracerProvider(tp), tracing.WithPropagators(propagation.TraceContext{}))))

	ctx, request := tp.Tracer("test").Start(context.Background(), "request")
	// a, then b and c after a, then d after both: two of them enqueued by
	// the bookkeeping, long after Start returned.
	run, err := workflow.Start(ctx, b.p, workflow.New("traced").Add(
		workflow.Task("a", def, 1), workflow.Task("b", def, 2).After("a"), workflow.Task("c", def, 3).After("a"),
		workflow.Task("d", def, 4).After("b", "c")))
	request.End()
	if err != nil {
		t.Fatal(err)
	}
	b.waitState(t, run.ID, flow.Succeeded)

	var spans []sdktrace.ReadOnlySpan
	testkit.WaitFor(t, 30*time.Second, func() error {
		spans = spans[:0]
		for _, s := range rec.Ended() {
			if strings.HasPrefix(s.Name(), "process ") {
				spans = append(spans, s)
			}
		}
		if len(spans) != 4 {
			return fmt.Errorf("%d process spans ended, want 4", len(spans))
		}
		return nil
	})
	var wf sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "workflow traced" {
			wf = s
		}
	}
	if wf == nil {
		t.Fatal("no workflow span")
	}
	if wf.Parent().SpanID() != request.SpanContext().SpanID() {
		t.Errorf("workflow span's parent is %v, want the request's span", wf.Parent().SpanID())
	}
	for _, s := range spans {
		if s.SpanContext().TraceID() != request.SpanContext().TraceID() || s.Parent().SpanID() != wf.SpanContext().SpanID() {
			t.Errorf("%s: trace %v parent %v; want trace %v, parent the workflow span %v", s.Name(),
				s.SpanContext().TraceID(), s.Parent().SpanID(), request.SpanContext().TraceID(), wf.SpanContext().SpanID())
		}
	}
}
