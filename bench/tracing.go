package main

import (
	"context"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
)

// measureTracing compares the end-to-end batch with and without the tracing
// middlewares over no-op providers: what tracing costs a service that has not
// configured an exporter. The raw column is jetq without tracing here. With
// control, neither side is traced: the row then shows what its median of
// pairs reads for two sides that do not differ, the noise it is read against.
func measureTracing(ctx context.Context, o options, control bool) (row, error) {
	r := row{workload: "(g) tracing middlewares, no-op providers", conn: inProcess.String(), unit: "tasks/s",
		higherIsBetter: true, note: "raw column: jetq without tracing"}
	if control {
		r.workload, r.note = "(g) control: jetq without tracing both ways", "the same code on both sides"
	}
	payloads := make([]Payload, o.n)
	for i := range payloads {
		payloads[i] = payload(i)
	}
	opts := []tracing.Option{tracing.WithTracerProvider(tracenoop.NewTracerProvider()), tracing.WithMeterProvider(metricnoop.NewMeterProvider())}
	err := each(o.tracingRuns, func(traced bool) error {
		e, err := newEnv(ctx, inProcess)
		if err != nil {
			return err
		}
		defer e.close()
		var pmw []tasks.EnqueueMiddleware
		var cmw []tasks.Middleware
		if traced && !control {
			pmw, cmw = []tasks.EnqueueMiddleware{tracing.Producer(opts...)}, []tasks.Middleware{tracing.Consumer(opts...)}
		}
		res, err := jetqBatch(ctx, e, payloads, 16, 0, pmw, cmw)
		if err != nil {
			return err
		}
		r.add(traced, res.e2e)
		r.addPauses(traced, res.progress)
		return nil
	})
	return r, err
}
