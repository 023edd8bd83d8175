package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestNodeRestartKeepsQueuedTasks is scenario 3: tasks enqueued on a single
// embedded node with file storage, a worker that takes some of them, then a
// full restart of the node on the same store dir; after it, a new worker
// processes every task that was left.
func TestNodeRestartKeepsQueuedTasks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	const count = 2000

	start := func() (*embedded.Server, jetstream.JetStream, func()) {
		srv, err := embedded.Start(ctx, embedded.WithStoreDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		nc, err := srv.Connect()
		if err != nil {
			t.Fatal(err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return srv, js, func() { nc.Close(); srv.Shutdown() }
	}

	a := newAccounting()
	var mu sync.Mutex
	handler := func(stopAfter int, stopped chan<- struct{}) tasks.HandlerFunc[e2etask.Payload] {
		var once sync.Once
		return func(ctx context.Context, tk *tasks.Task[e2etask.Payload]) error {
			mu.Lock()
			a.record(tk.ID, time.Now())
			n := len(a.handled) // distinct: a task that runs twice counts once
			mu.Unlock()
			if stopAfter > 0 && n >= stopAfter {
				once.Do(func() { close(stopped) })
			}
			return nil
		}
	}

	// Before the restart: enqueue everything, let a worker take about a quarter.
	_, js, stop := start()
	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	payloads := make([]e2etask.Payload, count)
	ids := make([]string, count)
	for i := range ids {
		ids[i] = fmt.Sprintf("r-%05d", i)
	}
	rs, err := producer.EnqueueBatch(ctx, p, e2etask.Work, payloads, producer.WithIDs(ids...))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		a.enqueued[r.ID] = true
	}
	quarter := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, e2etask.Work, handler(count/4, quarter))
	w, err := consumer.New(js, reg, consumer.WithLogger(quiet), consumer.WithConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- w.Run(wctx) }()
	<-quarter
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stop()
	mu.Lock()
	before := len(a.handled)
	mu.Unlock()

	// After the restart: the same store dir, a new worker, every task left.
	began := time.Now()
	_, js, stop = start()
	defer stop()
	all := make(chan struct{})
	reg = tasks.NewRegistry()
	tasks.MustHandle(reg, e2etask.Work, handler(count, all))
	w, err = consumer.New(js, reg, consumer.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel = context.WithCancel(ctx)
	defer cancel()
	go func() { done <- w.Run(wctx) }()
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		t.Fatal("tasks left before the restart were not processed after it")
	}
	cancel()
	<-done
	t.Logf("handled %d before the restart, the other %d within %v of starting the node again",
		before, count-before, time.Since(began).Round(time.Millisecond))
	a.readDLQ(t, js)
	a.report(t)
	if before == 0 || before == count {
		t.Errorf("handled %d of %d before the restart: the restart proved nothing", before, count)
	}
}
