package consumer_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// BenchmarkKeyThroughput is a busy key's own throughput: 2 000 tasks of
// 1 ms, all of one key, queued before two workers of 4 slots start, with a
// concurrency per key of 1 and of 4. Each op drains the 2 000 tasks; the
// figure is tasks/s from the workers' start to the last task's end.
// JETQ_KEY_BENCH_N sets another number of tasks, and JETQ_KEY_BENCH_DEBUG
// gives the workers a debug log on stderr (each task set aside, with its
// delay).
//
//	go test -run '^$' -bench KeyThroughput -benchtime 1x ./consumer/
func BenchmarkKeyThroughput(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("JETQ_KEY_BENCH_N")); err == nil {
		n = v
	}
	for _, k := range []int{1, 4} {
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			var total time.Duration
			for i := range b.N {
				total += keyThroughputRun(b, fmt.Sprintf("perkey.bench%d.r%d", k, i), k, n)
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "tasks/s")
		})
	}
}

// keyThroughputRun queues n tasks of one key of a type named name with a
// concurrency per key of k, starts two workers of 4 slots and returns how
// long they took to run them all.
func keyThroughputRun(b *testing.B, name string, k, n int) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	srv := embeddedtest.Server(b)
	_, js := embeddedtest.Connect(b, srv)
	p := jetqtest.NewProducer(b, js)
	ctx := context.Background()
	def := tasks.Define[Args](name, tasks.WithKeyConcurrency(k))
	for sent := 0; sent < n; sent += 1000 {
		if _, err := producer.EnqueueBatch(ctx, p, def, make([]Args, min(1000, n-sent)), producer.WithKey("busy")); err != nil {
			b.Fatal(err)
		}
	}
	var ran atomic.Int64
	done := make(chan time.Time, 1)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[Args]) error {
		time.Sleep(time.Millisecond) // the task's work
		if ran.Add(1) == int64(n) {
			done <- time.Now()
		}
		return nil
	})
	start := time.Now()
	b.StartTimer()
	opts := []consumer.Option{consumer.WithConcurrency(4)}
	if os.Getenv("JETQ_KEY_BENCH_DEBUG") != "" {
		opts = append(opts, consumer.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	w1 := jetqtest.StartWorker(b, srv, reg, opts...)
	w2 := jetqtest.StartWorker(b, srv, reg, opts...)
	var end time.Time
	select {
	case end = <-done:
	case <-time.After(30 * time.Minute):
		b.Fatalf("%d of %d tasks ran in 30 minutes", ran.Load(), n)
	}
	b.StopTimer()
	_ = w1.Stop(b)
	_ = w2.Stop(b)
	return end.Sub(start)
}
