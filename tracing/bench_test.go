package tracing_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
	"github.com/jetq/jetq/tracing"
)

// discard is a span exporter that drops what it is given.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkTracingOverhead pushes b.N tasks through enqueue and a worker,
// end to end on an in-process server with memory storage, and reports
// tasks/s: without the middlewares, with no-op providers, and with SDK
// providers that sample and record everything (spans batched to an exporter
// that drops them, metrics aggregated by a reader never collected).
// Tasks are enqueued in batches of 100 (batch) or one at a time from 8
// goroutines (single).
//
//	go test -run '^$' -bench TracingOverhead -benchtime 10000x ./tracing/
func BenchmarkTracingOverhead(b *testing.B) {
	props := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	setups := []struct {
		name string
		opts func(b *testing.B) []tracing.Option // nil: no middleware
	}{
		{"none", nil},
		{"noop", func(*testing.B) []tracing.Option {
			return []tracing.Option{
				tracing.WithTracerProvider(tracenoop.NewTracerProvider()),
				tracing.WithMeterProvider(metricnoop.NewMeterProvider()),
				tracing.WithPropagators(props),
			}
		}},
		{"sdk", func(b *testing.B) []tracing.Option {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			b.Cleanup(func() {
				_ = tp.Shutdown(context.Background())
				_ = mp.Shutdown(context.Background())
			})
			return []tracing.Option{tracing.WithTracerProvider(tp), tracing.WithMeterProvider(mp), tracing.WithPropagators(props)}
		}},
	}
	for _, mode := range []string{"batch", "single"} {
		for _, s := range setups {
			b.Run(mode+"/"+s.name, func(b *testing.B) {
				var opts []tracing.Option
				if s.opts != nil {
					opts = s.opts(b)
				}
				pipeline(b, mode == "batch", s.opts != nil, opts)
			})
		}
	}
}

func pipeline(b *testing.B, batch, traced bool, opts []tracing.Option) {
	srv := embeddedtest.Server(b)
	_, pjs := embeddedtest.Connect(b, srv)
	_, cjs := embeddedtest.Connect(b, srv)
	quiet := slog.New(slog.DiscardHandler)
	popts := []producer.Option{producer.WithLogger(quiet), producer.WithTopology(topology.Topology{Memory: true})}
	copts := []consumer.Option{consumer.WithLogger(quiet), consumer.WithTopology(topology.Topology{Memory: true}), consumer.WithConcurrency(16), consumer.WithPrefetch(256)}
	if traced {
		popts = append(popts, producer.WithMiddleware(tracing.Producer(opts...)))
		copts = append(copts, consumer.WithMiddleware(tracing.Consumer(opts...)))
	}
	p, err := producer.New(pjs, popts...)
	if err != nil {
		b.Fatal(err)
	}
	def := tasks.Define[Args]("bench.task")
	var handled atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		if handled.Add(1) == n {
			close(done)
		}
		return nil
	})
	ctx := context.Background()
	if err := p.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	w, err := consumer.New(cjs, reg, copts...)
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(runCtx) }()
	defer func() {
		stop()
		<-stopped
	}()

	b.ResetTimer()
	start := time.Now()
	if batch {
		payloads := make([]Args, 100)
		for left := b.N; left > 0; left -= len(payloads) {
			if _, err := producer.EnqueueBatch(ctx, p, def, payloads[:min(left, len(payloads))]); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 8 {
			wg.Go(func() {
				for next.Add(1) <= n {
					if _, err := producer.Enqueue(ctx, p, def, Args{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("handled %d of %d tasks", handled.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tasks/s")
}
