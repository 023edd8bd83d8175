package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestLongTasksBehindABacklogRunOnce runs tasks that take 2.5 times the ack
// wait, queued far beyond the workers' slots, on several workers with
// default options but the ack wait. No delivery waits anywhere the workers
// cannot heartbeat it, so none is redelivered elsewhere: each task runs
// exactly once.
//
// The one thing that may still redeliver a task is the documented one: a
// process silent for its ack wait. The test process holds the server and
// the workers, and on a loaded machine it can be descheduled for longer
// than the heartbeat's margin (stopping it for 1.6 s ran 3 of 24 tasks
// twice; 0.9 s ran none). A try during which the process stalled that long
// proves nothing either way and is made again, up to three times; a task
// run twice in a try without such a stall fails the test.
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
			const ackWait, tries = time.Second, 3
			// Heartbeats go every third of the ack wait: a stall longer than
			// the other two thirds can let a delivery's ack wait run out.
			margin := ackWait - ackWait/3
			for try := 1; ; try++ {
				twice, stall := longTasksBehindABacklog(t, ackWait, tc.concurrency)
				if stall <= margin {
					for _, msg := range twice {
						t.Error(msg)
					}
					if len(twice) > 0 {
						t.Errorf("%d of 24 tasks did not run exactly once; the process never stalled longer than %v", len(twice), stall)
					}
					return
				}
				t.Logf("try %d: the process stalled for %v, past the heartbeat's margin of %v; %d tasks ran twice or more",
					try, stall, margin, len(twice))
				if try == tries {
					t.Fatalf("the process stalled past the heartbeat's margin in each of %d tries; the machine is too loaded to judge", tries)
				}
			}
		})
	}
}

// longTasksBehindABacklog runs 24 tasks of 2.5 times ackWait on workers of
// the given concurrencies, on a server of its own, and reports the tasks
// that did not run exactly once and the longest the process stalled
// meanwhile.
func longTasksBehindABacklog(t *testing.T, ackWait time.Duration, concurrency []int) (twice []string, stall time.Duration) {
	t.Helper()
	b := setup(t)
	ctx := context.Background()
	const n = 24
	work := ackWait * 5 / 2
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
	longest := watchStalls()
	var workers []*jetqtest.Worker
	for _, c := range concurrency {
		workers = append(workers, jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(c)))
	}
	for range n {
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("tasks did not finish")
		}
	}
	workEmpty(t, b.js)
	stall = longest()
	for _, rw := range workers {
		rw.Cancel()
	}
	mu.Lock()
	defer mu.Unlock()
	for id := range ids {
		if runs[id] != 1 {
			twice = append(twice, fmt.Sprintf("task %s ran %d times, want 1", id, runs[id]))
		}
	}
	return twice, stall
}

// watchStalls measures how long the process goes without running a
// goroutine that wakes every 10 ms, until the returned func is called; the
// func returns the longest gap seen, less the 10 ms.
func watchStalls() (longest func() time.Duration) {
	const every = 10 * time.Millisecond
	stop, result := make(chan struct{}), make(chan time.Duration)
	go func() {
		tk := time.NewTicker(every)
		defer tk.Stop()
		last, worst := time.Now(), time.Duration(0)
		for {
			select {
			case <-tk.C:
				// The tick's own time may be stale after a stall: the gap is
				// to when this goroutine runs again.
				now := time.Now()
				worst = max(worst, now.Sub(last)-every)
				last = now
			case <-stop:
				worst = max(worst, time.Since(last)-every)
				result <- worst
				return
			}
		}
	}()
	return func() time.Duration {
		close(stop)
		return <-result
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
		jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(10))
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

// TestAnEndedBacklogFreesItsPull: when one type's backlog ends, its pull
// ends with it and keeps no room from another type. Worker: concurrency
// 10. Type a's task comes through its waiting pull; its next pull, a
// batch, finds nothing and ends at once, and a waits again with one
// waiting pull. Type b's two tasks then come at once, the first through
// b's waiting pull and the second through the batch that follows.
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
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(10))
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

// TestManyTypesShareTheSlots runs 300 task types with 3 tasks each on one
// worker of concurrency 16: no type waits for another type's empty pull,
// so all 900 run (before, about 10 types could pull at once and each held
// its credits up to a second waiting for tasks that did not exist: 58 of
// the 900 had not run after 60 s). It logs how long they took from the
// first enqueue, once the worker's 300 consumers exist.
func TestManyTypesShareTheSlots(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const types, each = 300, 3
	var mu sync.Mutex
	var last time.Time
	done := make(chan struct{}, types*each)
	reg := tasks.NewRegistry()
	defs := make([]*tasks.Definition[int], types)
	for i := range defs {
		defs[i] = tasks.Define[int](fmt.Sprintf("many.t%03d", i))
		tasks.MustHandle(reg, defs[i], func(context.Context, *tasks.Task[int]) error {
			mu.Lock()
			last = time.Now()
			mu.Unlock()
			done <- struct{}{}
			return nil
		})
	}
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(16))
	testkit.WaitFor(t, 60*time.Second, func() error {
		s, err := b.js.Stream(ctx, "JETQ_TASKS")
		if err != nil {
			return err
		}
		if n := s.CachedInfo().State.Consumers; n != types {
			return fmt.Errorf("%d of %d consumers", n, types)
		}
		return nil
	})
	start := time.Now()
	for _, d := range defs {
		if _, err := producer.EnqueueBatch(ctx, b.p, d, []int{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
	enqueued := time.Since(start)
	deadline := time.After(45 * time.Second) // 77 s before, on a loaded machine
	for i := range types * each {
		select {
		case <-done:
		case <-deadline:
			t.Fatalf("%d of %d tasks ran within 45 s", i, types*each)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d tasks of %d types ran in %v from the first enqueue (enqueueing took %v)", types*each, types, last.Sub(start), enqueued)
}

// TestABusyWorkerLeavesNewTasksToAnIdleOne: worker A has its 4 slots busy
// on long tasks, worker B 16 free slots; 7 more tasks enqueued start on B,
// none waits in A's hands (before, A held up to its prefetch and one more
// beyond its running tasks, and those waited for A's slots while B was
// idle). Both workers are sampled all along: neither holds more than its
// documented limit, the slots and the prefetch plus one per task type.
func TestABusyWorkerLeavesNewTasksToAnIdleOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("intake.long", tasks.WithTimeout(time.Minute))
	release := make(chan struct{})
	started := make(chan string, 32)
	registry := func(name string) *tasks.Registry {
		reg := tasks.NewRegistry()
		tasks.MustHandle(reg, def, func(ctx context.Context, _ *tasks.Task[Args]) error {
			started <- name
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		return reg
	}
	defer close(release)
	for i := range 4 {
		if _, err := producer.Enqueue(ctx, b.p, def, Args{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	a := jetqtest.StartWorker(t, b.srv, registry("A"), consumer.WithConcurrency(4))
	for range 4 {
		if got := <-started; got != "A" {
			t.Fatalf("a task started on %s before B ran", got)
		}
	}
	bw := jetqtest.StartWorker(t, b.srv, registry("B"), consumer.WithConcurrency(16))

	stop := make(chan struct{})
	sampled := make(chan error, 1)
	go func() {
		n, worst := 0, ""
		for {
			for _, s := range []struct {
				name string
				w    *consumer.Worker
				max  int
			}{{"A", a.Worker, 4 + 4 + 1}, {"B", bw.Worker, 16 + 16 + 1}} {
				held, running := consumer.Held(s.w)
				n++
				if held > s.max && worst == "" {
					worst = fmt.Sprintf("worker %s held %d (%d running), above its limit %d", s.name, held, running, s.max)
				}
			}
			select {
			case <-stop:
				if worst != "" {
					sampled <- errors.New(worst)
				} else if n < 10 {
					sampled <- fmt.Errorf("only %d samples", n)
				} else {
					sampled <- nil
				}
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()

	// B's waiting pull is out, and A, all slots busy, asks for nothing.
	testkit.WaitFor(t, 10*time.Second, func() error {
		c, err := b.js.Consumer(ctx, "JETQ_TASKS", "default:intake:long")
		if err != nil {
			return err
		}
		if n := c.CachedInfo().NumWaiting; n < 1 {
			return fmt.Errorf("%d pulls waiting", n)
		}
		return nil
	})
	for i := range 7 {
		if _, err := producer.Enqueue(ctx, b.p, def, Args{N: 10 + i}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 7 {
		select {
		case got := <-started:
			if got != "B" {
				t.Errorf("task %d started on %s, whose slots were busy, while B had free slots", i, got)
			}
		case <-time.After(15 * time.Second):
			held, running := consumer.Held(a.Worker)
			t.Fatalf("%d of 7 tasks started; A holds %d, %d of them running", i, held, running)
		}
	}
	close(stop)
	if err := <-sampled; err != nil {
		t.Error(err)
	}
}

// TestShutdownLosesNoDeliveryOnItsWay stops a worker again and again while
// its pulls bring a backlog: every delivery that reaches it after it
// stopped pulling is taken in (run by the graceful stop), so right after
// Shutdown no task is held anywhere, and what is left is delivered at once
// (before, the pull's subscription was removed under deliveries the server
// had sent, and those waited out the ack wait).
func TestShutdownLosesNoDeliveryOnItsWay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[int]("intake.stop", tasks.WithAckWait(time.Minute))
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[int]) error { return nil })
	const n = 20000
	if _, err := producer.EnqueueBatch(ctx, b.p, def, make([]int, n)); err != nil {
		t.Fatal(err)
	}
	c, err := b.js.Consumer(ctx, "JETQ_TASKS", "default:intake:stop")
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatal(err)
	}
	for round := range 6 {
		nc, js := embeddedtest.Connect(t, b.srv)
		w, err := consumer.New(js, reg, consumer.WithConcurrency(16), consumer.WithLogger(testkit.Logger(t)))
		if err != nil {
			t.Fatal(err)
		}
		ran := make(chan error, 1)
		go func() { ran <- w.Run(ctx) }()
		// Stop while tasks flow.
		testkit.WaitFor(t, 10*time.Second, func() error {
			if c == nil {
				if c, err = b.js.Consumer(ctx, "JETQ_TASKS", "default:intake:stop"); err != nil {
					return err
				}
			}
			ci, err := c.Info(ctx)
			if err != nil {
				return err
			}
			if ci.AckFloor.Stream == 0 {
				return errors.New("no task acknowledged yet")
			}
			return nil
		})
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := w.Shutdown(sctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-ran; err != nil {
			t.Fatal(err)
		}
		// Whatever is left is delivered at once: take it, until nothing is
		// held. A delivery lost on its way would be held until its ack
		// wait, a minute.
		testkit.WaitFor(t, 5*time.Second, func() error {
			batch, err := c.Fetch(100, jetstream.FetchMaxWait(time.Second), jetstream.FetchPriorityGroup("jetq"))
			if err != nil {
				return err
			}
			for m := range batch.Messages() {
				if err := m.DoubleAck(ctx); err != nil {
					return err
				}
			}
			ci, err := c.Info(ctx)
			if err != nil {
				return err
			}
			if ci.NumAckPending != 0 {
				return fmt.Errorf("round %d: %d tasks still held after the worker stopped; they would wait out the ack wait", round, ci.NumAckPending)
			}
			return nil
		})
		nc.Close()
	}
}
