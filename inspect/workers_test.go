package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestWorkers runs two workers, one of which settles three tasks of each
// outcome, then closes the connection of the other as if its process were
// killed: it leaves the list once its entry's TTL has passed.
func TestWorkers(t *testing.T) {
	ctx := context.Background()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	if ws, err := in.Workers(ctx); err != nil || len(ws) != 0 {
		t.Fatalf("Workers on an empty server: %v %v", ws, err)
	}
	ok := tasks.Define[int]("work.ok")
	bad := tasks.Define[int]("work.bad", tasks.WithMaxAttempts(2), tasks.WithBackoff(tasks.Backoff{Initial: 10 * time.Millisecond}))
	other := tasks.Define[int]("other.idle", tasks.WithQueue("other"))
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, ok, func(context.Context, *tasks.Task[int]) error { return nil })
	tasks.MustHandle(reg, bad, func(context.Context, *tasks.Task[int]) error { return errors.New("no") })
	reg2 := tasks.NewRegistry()
	tasks.MustHandle(reg2, other, func(context.Context, *tasks.Task[int]) error { return nil })

	start := func(reg *tasks.Registry, concurrency int) *jetqtest.Worker {
		return jetqtest.StartWorker(t, srv, reg, consumer.WithConcurrency(concurrency), consumer.WithPresenceInterval(200*time.Millisecond))
	}
	start(reg, 3)
	dying := start(reg2, 7)

	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := producer.Enqueue(ctx, p, ok, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := producer.Enqueue(ctx, p, bad, 1); err != nil {
			t.Fatal(err)
		}
	}
	host, _ := os.Hostname()
	var ws []inspect.Worker
	testkit.WaitFor(t, 10*time.Second, func() error {
		if ws, err = in.Workers(ctx); err != nil {
			return err
		}
		if len(ws) != 2 {
			return fmt.Errorf("want 2 workers, got %+v", ws)
		}
		if w := byConcurrency(ws, 3); w.Succeeded != 3 || w.Failed != 6 || w.DeadLettered != 3 {
			return fmt.Errorf("first worker: want 3 succeeded, 6 failed attempts, 3 dead-lettered: %+v", w)
		}
		return nil
	})
	first, second := byConcurrency(ws, 3), byConcurrency(ws, 7)
	if first.Host != host || first.PID != os.Getpid() || first.ID == "" || first.ID == second.ID ||
		ws[0].StartedAt.After(ws[1].StartedAt) || time.Since(first.LastSeen) > 5*time.Second {
		t.Errorf("workers, oldest first: %+v", ws)
	}
	if len(first.Tasks) != 2 || first.Tasks[0].Task != "work.bad" || first.Tasks[0].DeadLettered != 3 || first.Tasks[1].Succeeded != 3 {
		t.Errorf("first worker's tasks: %+v", first.Tasks)
	}
	if len(second.Tasks) != 1 || second.Tasks[0].Queue != "other" || second.Tasks[0].Succeeded != 0 {
		t.Errorf("second worker's tasks: %+v", second.Tasks)
	}

	dying.Kill()
	killed := time.Now()
	testkit.WaitFor(t, 10*time.Second, func() error {
		if ws, err = in.Workers(ctx); err != nil {
			return err
		}
		if len(ws) != 1 || ws[0].ID != first.ID {
			return fmt.Errorf("want only the first worker, got %+v", ws)
		}
		return nil
	})
	if gone := time.Since(killed); gone > 2*time.Second {
		t.Errorf("the killed worker's entry lived %v; its TTL is 1 s after its last write", gone)
	}
}

// byConcurrency is the worker of ws with concurrency n, or the zero Worker.
func byConcurrency(ws []inspect.Worker, n int) inspect.Worker {
	for _, w := range ws {
		if w.Concurrency == n {
			return w
		}
	}
	return inspect.Worker{}
}

// TestWorkersNextRetry: a task that failed and waits for its retry shows in
// its worker's entry as the next retry of its type, and leaves it once it
// has run again.
func TestWorkersNextRetry(t *testing.T) {
	ctx := context.Background()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	const delay = 2 * time.Second
	flaky := tasks.Define[int]("work.flaky", tasks.WithBackoff(tasks.Backoff{Initial: delay, Max: delay}))
	var attempts atomic.Int32
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, flaky, func(context.Context, *tasks.Task[int]) error {
		if attempts.Add(1) == 1 {
			return errors.New("not yet")
		}
		return nil
	})
	jetqtest.StartWorkerOn(t, js, reg, consumer.WithPresenceInterval(200*time.Millisecond))
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	enqueued := time.Now()
	if _, err := producer.Enqueue(ctx, p, flaky, 1); err != nil {
		t.Fatal(err)
	}
	var next time.Time
	testkit.WaitFor(t, 10*time.Second, func() error {
		ws, err := in.Workers(ctx)
		if err != nil {
			return err
		}
		if len(ws) != 1 || len(ws[0].Tasks) != 1 || ws[0].Tasks[0].NextRetryAt.IsZero() {
			return fmt.Errorf("want one worker with a retry due: %+v", ws)
		}
		next = ws[0].Tasks[0].NextRetryAt
		return nil
	})
	// The backoff is jittered; the retry is due about delay after the failure.
	if lo, hi := enqueued.Add(delay/2), time.Now().Add(2*delay); next.Before(lo) || next.After(hi) {
		t.Errorf("next retry at %v, want between %v and %v", next, lo, hi)
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		ws, err := in.Workers(ctx)
		if err != nil {
			return err
		}
		if len(ws) != 1 || ws[0].Succeeded != 1 || !ws[0].Tasks[0].NextRetryAt.IsZero() {
			return fmt.Errorf("want the retry run and no retry due: %+v", ws)
		}
		return nil
	})
}
