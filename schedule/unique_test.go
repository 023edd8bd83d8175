package schedule_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

func TestUniqueKeyStoresOneTaskUntilItSettles(t *testing.T) {
	t.Parallel()
	js, p, _ := setup(t)
	def := tasks.Define[int]("account.sync")
	release := make(chan struct{})
	var got runs
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[int]) error {
		got.add(tk.ID)
		<-release
		return nil
	})
	jetqtest.StartWorkerOn(t, js, reg)
	ctx := context.Background()
	ids := make([]string, 100)
	dups := make([]bool, 100)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := producer.Enqueue(ctx, p, def, i, producer.WithUnique("account:7", time.Minute))
			if err != nil {
				t.Error(err)
			}
			ids[i], dups[i] = r.ID, r.Duplicate
		}()
	}
	wg.Wait()
	stored := 0
	for i := range ids {
		if !dups[i] {
			stored++
		}
		if ids[i] != ids[0] {
			t.Fatalf("enqueue %d returned ID %s, enqueue 0 %s: want the one task's ID", i, ids[i], ids[0])
		}
	}
	if stored != 1 {
		t.Fatalf("%d enqueues stored a task, want 1", stored)
	}
	// While it runs, the key is held.
	testkit.WaitFor(t, 5*time.Second, func() error {
		if got.count(ids[0]) != 1 {
			return fmt.Errorf("not started")
		}
		return nil
	})
	if r, err := producer.Enqueue(ctx, p, def, 1, producer.WithUnique("account:7", time.Minute)); err != nil || !r.Duplicate || r.ID != ids[0] {
		t.Fatalf("while running: %+v, %v; want the running task's ID", r, err)
	}
	// Another key is independent.
	if r, err := producer.Enqueue(ctx, p, def, 1, producer.WithUnique("account:8", time.Minute)); err != nil || r.Duplicate {
		t.Fatalf("another key: %+v, %v", r, err)
	}
	close(release)
	// Once it completes, the key is free again.
	testkit.WaitFor(t, 5*time.Second, func() error {
		r, err := producer.Enqueue(ctx, p, def, 2, producer.WithUnique("account:7", time.Minute))
		if err != nil {
			return err
		}
		if r.Duplicate {
			return fmt.Errorf("key still held by %s", r.ID)
		}
		return nil
	})
}

func TestCancellingAUniqueDelayedTaskFreesItsKey(t *testing.T) {
	t.Parallel()
	js, p, _ := setup(t)
	in := newInspector(t, js)
	def := tasks.Define[int]("digest.send", tasks.WithStateTracking())
	ctx := context.Background()
	r, err := producer.Enqueue(ctx, p, def, 1, producer.WithUnique("user:9", time.Hour), producer.WithDelay(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if again, err := producer.Enqueue(ctx, p, def, 1, producer.WithUnique("user:9", time.Hour), producer.WithDelay(time.Hour)); err != nil || !again.Duplicate || again.ID != r.ID {
		t.Fatalf("while scheduled: %+v, %v; want the scheduled task's ID", again, err)
	}
	tr, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := tr.Status(ctx, r.ID); err != nil || st.State != status.Scheduled || st.RunAt.IsZero() {
		t.Errorf("before the cancel: %+v, %v; want scheduled with its run time", st, err)
	}
	if err := in.Cancel(ctx, inspect.Ref{ID: r.ID}); err != nil {
		t.Fatal(err)
	}
	if st, err := tr.Status(ctx, r.ID); err != nil || st.State != status.Cancelled {
		t.Errorf("after the cancel: %+v, %v; want cancelled", st.State, err)
	}
	if after, err := producer.Enqueue(ctx, p, def, 1, producer.WithUnique("user:9", time.Hour)); err != nil || after.Duplicate {
		t.Fatalf("after the cancel: %+v, %v; want the key free", after, err)
	}
}

func TestUniqueKeyOfAKilledWorkerIsFreedBySettlementOrTTL(t *testing.T) {
	t.Parallel()
	srv, js, p, _ := setupServer(t)
	ctx := context.Background()
	def := tasks.Define[int]("report.export", tasks.WithAckWait(2*time.Second))
	started := make(chan string, 4)
	hang := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[int]) error {
		started <- tk.ID
		<-hang
		return nil
	})
	// A worker on its own connection, so that closing the connection kills it
	// as a crashed process would: no settlement, no more heartbeats.
	w := jetqtest.StartWorker(t, srv, reg)
	r, err := producer.Enqueue(ctx, p, def, 1, producer.WithUnique("export:1", 4*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if id := <-started; id != r.ID {
		t.Fatalf("started %s, want %s", id, r.ID)
	}
	w.Kill()
	close(hang)
	killed := time.Now()
	// No worker settles it, so the key's TTL frees it.
	if r2, err := producer.Enqueue(ctx, p, def, 2, producer.WithUnique("export:1", 4*time.Second)); err != nil || !r2.Duplicate {
		t.Fatalf("right after the kill: %+v, %v; want the key held", r2, err)
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		r3, err := producer.Enqueue(ctx, p, def, 3, producer.WithUnique("export:1", 4*time.Second))
		if err != nil {
			return err
		}
		if r3.Duplicate {
			return fmt.Errorf("key still held by %s", r3.ID)
		}
		return nil
	})
	t.Logf("key free %v after the kill (TTL 4s)", time.Since(killed).Round(100*time.Millisecond))

	// With a worker alive, the redelivered task settles and frees the key
	// before its TTL.
	r4, err := producer.Enqueue(ctx, p, def, 4, producer.WithUnique("export:2", time.Hour))
	if err != nil || r4.Duplicate {
		t.Fatal(r4, err)
	}
	jetqtest.StartWorkerOn(t, js, reg)
	testkit.WaitFor(t, 10*time.Second, func() error {
		r5, err := producer.Enqueue(ctx, p, def, 5, producer.WithUnique("export:2", time.Hour))
		if err != nil {
			return err
		}
		if r5.Duplicate {
			return fmt.Errorf("key still held by %s", r5.ID)
		}
		return nil
	})
}

func TestUniqueEnqueueRetriedWithItsIDIsStored(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	// The first publish fails as a timed-out one would (it may or may not
	// have been stored): the key stays with the task's ID, and the retry
	// with that ID must still store the task.
	var calls atomic.Int64
	failFirst := func(next tasks.Enqueuer) tasks.Enqueuer {
		return func(ctx context.Context, batch []*tasks.Envelope) []error {
			if calls.Add(1) == 1 {
				return []error{context.DeadlineExceeded}
			}
			return next(ctx, batch)
		}
	}
	p, err := producer.New(js, producer.WithMiddleware(failFirst), producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[int]("unique.retry")
	ctx := context.Background()
	if _, err := producer.Enqueue(ctx, p, def, 1, producer.WithID("u-1"), producer.WithUnique("k", time.Hour)); err == nil {
		t.Fatal("first enqueue: want the middleware's error")
	}
	r, err := producer.Enqueue(ctx, p, def, 1, producer.WithID("u-1"), producer.WithUnique("k", time.Hour))
	if err != nil || r.Duplicate || r.Sequence == 0 {
		t.Fatalf("retry with the same ID: %+v, %v; want the task stored", r, err)
	}
	// Another task with the key is refused while u-1 is queued.
	if other, err := producer.Enqueue(ctx, p, def, 2, producer.WithUnique("k", time.Hour)); err != nil || !other.Duplicate || other.ID != "u-1" {
		t.Fatalf("another task with the key: %+v, %v; want u-1's ID", other, err)
	}
}

func TestRepeatedEnqueueOfAFinishedTaskLeavesItsKeyFree(t *testing.T) {
	t.Parallel()
	js, p, _ := setup(t)
	def := tasks.Define[int]("unique.repeat")
	var got runs
	jetqtest.StartWorkerOn(t, js, recorder(def, &got))
	ctx := context.Background()
	if _, err := producer.Enqueue(ctx, p, def, 1, producer.WithID("x"), producer.WithUnique("k", time.Hour)); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, func() error {
		if got.count("x") != 1 {
			return fmt.Errorf("x has not run")
		}
		return nil
	})
	// The same enqueue again, within the dedup window: dropped as a
	// duplicate, and the key it took goes back.
	testkit.WaitFor(t, 5*time.Second, func() error {
		r, err := producer.Enqueue(ctx, p, def, 1, producer.WithID("x"), producer.WithUnique("k", time.Hour))
		if err != nil {
			return err
		}
		if !r.Duplicate || r.ID != "x" {
			return fmt.Errorf("repeat: %+v, want a duplicate of x", r)
		}
		return nil
	})
	// The key is free once x has settled, which can be a moment after its
	// handler returned; a repeat that kept the key would hold it for the hour.
	testkit.WaitFor(t, 5*time.Second, func() error {
		r, err := producer.Enqueue(ctx, p, def, 2, producer.WithUnique("k", time.Hour))
		if err != nil || r.Duplicate {
			return fmt.Errorf("a new task with the key: %+v, %v; want it stored", r, err)
		}
		return nil
	})
}
