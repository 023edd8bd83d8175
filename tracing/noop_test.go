package tracing_test

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
)

// With no-op providers, a service that has not configured tracing, the
// consumer middleware costs a delivery one allocation: the ctx the no-op
// tracer puts its span in.
func TestConsumerWithNoopProvidersAllocatesOnce(t *testing.T) {
	mw := tracing.Consumer(
		tracing.WithTracerProvider(tracenoop.NewTracerProvider()),
		tracing.WithMeterProvider(metricnoop.NewMeterProvider()),
		tracing.WithPropagators(propagators),
	)
	h := mw(func(ctx context.Context, env *tasks.Envelope) error {
		env.Outcome = tasks.Outcome{Action: tasks.ActionAck}
		return nil
	})
	env := envelope("t-1")
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		if err := h(ctx, env); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("%v allocations per delivery, want at most 1", allocs)
	}

}

// With no-op providers, the producer middleware makes no span per task of a
// batch, so its cost does not grow with the batch; baggage in the enqueue's
// ctx still travels with every task.
func TestProducerWithNoopProvidersMakesNoSpanPerTask(t *testing.T) {
	mw := tracing.Producer(
		tracing.WithTracerProvider(tracenoop.NewTracerProvider()),
		tracing.WithMeterProvider(metricnoop.NewMeterProvider()),
		tracing.WithPropagators(propagators),
	)
	enqueue := mw(func(_ context.Context, batch []*tasks.Envelope) []error {
		return make([]error, len(batch))
	})
	batch := make([]*tasks.Envelope, 100)
	for i := range batch {
		batch[i] = envelope(fmt.Sprint("t-", i))
	}
	allocs := testing.AllocsPerRun(100, func() { enqueue(context.Background(), batch) })
	if allocs >= float64(len(batch)) {
		t.Errorf("%v allocations for a batch of %d, want fewer than one a task", allocs, len(batch))
	}

	member, err := baggage.NewMember("tenant", "acme")
	if err != nil {
		t.Fatal(err)
	}
	bag, err := baggage.New(member)
	if err != nil {
		t.Fatal(err)
	}
	enqueue(baggage.ContextWithBaggage(context.Background(), bag), batch)
	for _, env := range batch {
		if got := env.Header.Get("baggage"); got != "tenant=acme" {
			t.Fatalf("task %s: baggage header %q, want tenant=acme", env.ID, got)
		}
	}
}
