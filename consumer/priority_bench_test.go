package consumer_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/internal/baseline"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// BenchmarkPriority drains b.N no-op tasks of queue default, as
// BenchmarkProcess/jetq does, through a worker that also serves a queue
// critical with no tasks: without a priority, with default first or last
// in a strict order (last, it has no prefetch), and weighted. ns/op is per
// task.
//
//	go test -run '^$' -bench Priority -benchtime 50000x ./consumer/
func BenchmarkPriority(b *testing.B) {
	idle := tasks.Define[int]("bench.idle", tasks.WithQueue("critical"))
	for _, tc := range []struct {
		name string
		opts []consumer.Option
	}{
		{"none", nil},
		{"strict-first", []consumer.Option{consumer.WithQueues("default", "critical"), consumer.WithStrictPriority()}},
		{"strict-last", []consumer.Option{consumer.WithQueues("critical", "default"), consumer.WithStrictPriority()}},
		{"weighted", []consumer.Option{consumer.WithQueueWeights(map[string]int{"critical": 3, "default": 1})}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			js := benchQueue(b, nil)
			var n atomic.Int64
			done := make(chan struct{})
			reg := tasks.NewRegistry()
			tasks.MustHandle(reg, benchTask, func(context.Context, *tasks.Task[baseline.Payload]) error {
				if n.Add(1) == int64(b.N) {
					close(done)
				}
				return nil
			})
			tasks.MustHandle(reg, idle, func(context.Context, *tasks.Task[int]) error { return nil })
			opts := append([]consumer.Option{consumer.WithConcurrency(16), consumer.WithTopology(topology.Topology{Memory: true}),
				consumer.WithLogger(slog.New(slog.DiscardHandler))}, tc.opts...)
			w, err := consumer.New(js, reg, opts...)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan error, 1)
			b.ReportAllocs()
			b.ResetTimer()
			go func() { stopped <- w.Run(ctx) }()
			<-done
			b.StopTimer()
			cancel()
			if err := <-stopped; err != nil {
				b.Fatal(err)
			}
		})
	}
}
