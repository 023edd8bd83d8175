package consumer_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestLongTasksBehindABacklogRunOnce runs tasks that take 2.5 times the ack
// wait, queued far beyond the workers' slots, on several workers with
// default options but the ack wait. No delivery waits anywhere the workers
// cannot heartbeat it, so none is redelivered elsewhere: each task runs
// exactly once.
func TestLongTasksBehindABacklogRunOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		concurrency []int
	}{
		{"equal workers", []int{4, 4}},
		{"unequal workers", []int{1, 3, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			const ackWait, work, n = time.Second, 2500 * time.Millisecond, 24
			def := tasks.Define[Args]("test.long", tasks.WithTimeout(time.Minute), tasks.WithAckWait(ackWait))
			var mu sync.Mutex
			runs := map[string]int{}
			done := make(chan struct{}, n*3)
			reg := tasks.NewRegistry()
			tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
				mu.Lock()
				runs[tk.ID]++
				mu.Unlock()
				select {
				case <-time.After(work):
				case <-ctx.Done():
					return ctx.Err()
				}
				done <- struct{}{}
				return nil
			})
			ids := map[string]bool{}
			for i := range n {
				r, err := producer.Enqueue(ctx, b.p, def, Args{N: i})
				if err != nil {
					t.Fatal(err)
				}
				ids[r.ID] = true
			}
			for _, c := range tc.concurrency {
				b.startWorker(t, reg, consumer.WithConcurrency(c))
			}
			for range n {
				select {
				case <-done:
				case <-time.After(60 * time.Second):
					t.Fatal("tasks did not finish")
				}
			}
			workEmpty(t, b.js)
			mu.Lock()
			defer mu.Unlock()
			twice := 0
			for id := range ids {
				if runs[id] != 1 {
					twice++
					t.Errorf("task %s ran %d times, want 1", id, runs[id])
				}
			}
			if twice > 0 {
				t.Errorf("%d of %d tasks did not run exactly once", twice, n)
			}
		})
	}
}

// TestMaxConcurrencyCapsEveryWorker runs a capped task type on three
// workers of concurrency 10: at no time do more than the cap's handlers run
// across them, and every task finishes.
func TestMaxConcurrencyCapsEveryWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const limit, n = 4, 60
	def := tasks.Define[Args]("test.capped", tasks.WithMaxConcurrency(limit))
	var mu sync.Mutex
	running, peak, finished := 0, 0, 0
	done := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond) // the work; long enough for the workers to overlap
		mu.Lock()
		defer mu.Unlock()
		running--
		if finished++; finished == n {
			close(done)
		}
		return nil
	})
	for i := range n {
		if _, err := producer.Enqueue(ctx, b.p, def, Args{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		b.startWorker(t, reg, consumer.WithConcurrency(10))
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%d of %d tasks finished", finished, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if peak > limit {
		t.Errorf("%d handlers ran at once across the workers, cap %d", peak, limit)
	}
	if peak < 2 {
		t.Errorf("at most %d handler ran at once: the workers never overlapped, so the test shows nothing", peak)
	}
	t.Logf("peak %d handlers at once, cap %d, %d tasks", peak, limit, n)
}

// TestAnEndedBacklogFreesItsPull: when one type's backlog ends part-way
// through a batch, its pull gives back the credits of the tasks that did
// not come within a second, so another type's tasks do not wait for them.
// Worker: concurrency 10, prefetch 10, two types, so 22 credits. After its
// first task, type a pulls for up to 20; with one task queued, that pull
// waits. Type b's first task comes through its idle pull, and its next
// pull needs 5 free credits, which only the end of a's pull gives back. A
// pull that waited its full 5 s would hold b's second task that long.
func TestAnEndedBacklogFreesItsPull(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	a := tasks.Define[int]("intake.a")
	bt := tasks.Define[int]("intake.b")
	started := make(chan string, 10)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, a, func(context.Context, *tasks.Task[int]) error { started <- "a"; return nil })
	tasks.MustHandle(reg, bt, func(context.Context, *tasks.Task[int]) error { started <- "b"; return nil })
	b.startWorker(t, reg, consumer.WithConcurrency(10))
	wait := func(want string, within time.Duration) {
		t.Helper()
		select {
		case got := <-started:
			if got != want {
				t.Fatalf("task %s started, want %s", got, want)
			}
		case <-time.After(within):
			t.Fatalf("no task %s started within %v", want, within)
		}
	}
	if _, err := producer.Enqueue(ctx, b.p, a, 1); err != nil {
		t.Fatal(err)
	}
	wait("a", 10*time.Second)
	// a's batch pull is out, waiting for tasks that will not come (its idle
	// pull of one ended when the task came).
	testkit.WaitFor(t, 10*time.Second, func() error {
		ci, err := b.js.Consumer(ctx, "JETQ_TASKS", "default:intake:a")
		if err != nil {
			return err
		}
		if n := ci.CachedInfo().NumWaiting; n != 1 {
			return fmt.Errorf("type a has %d pulls waiting, want 1", n)
		}
		return nil
	})
	if _, err := producer.EnqueueBatch(ctx, b.p, bt, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	wait("b", 10*time.Second)
	wait("b", 3*time.Second)
}
