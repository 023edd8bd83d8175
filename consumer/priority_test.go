package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestPriorityOptionsRefuseBadInput: every bad priority option is refused
// by New with ErrInvalidOption and a message that says what is wrong.
func TestPriorityOptionsRefuseBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg := tasks.NewRegistry()
	for _, q := range []string{"high", "low"} {
		tasks.MustHandle(reg, tasks.Define[int]("prio."+q, tasks.WithQueue(q)), func(context.Context, *tasks.Task[int]) error { return nil })
	}
	for _, tc := range []struct {
		name string
		opts []consumer.Option
		want string
	}{
		{"strict without queues", []consumer.Option{consumer.WithStrictPriority()}, "list them with WithQueues"},
		{"strict with a queue twice", []consumer.Option{consumer.WithQueues("high", "low", "high"), consumer.WithStrictPriority()}, `queue "high" is listed twice`},
		{"strict with an unknown queue", []consumer.Option{consumer.WithQueues("high", "urgent", "low"), consumer.WithStrictPriority()}, `queue "urgent" given to WithStrictPriority has no registered task`},
		{"strict and weights", []consumer.Option{consumer.WithQueues("high", "low"), consumer.WithStrictPriority(), consumer.WithQueueWeights(map[string]int{"high": 2, "low": 1})}, "choose one"},
		{"weight zero", []consumer.Option{consumer.WithQueueWeights(map[string]int{"high": 2, "low": 0})}, `queue "low" has weight 0`},
		{"weight negative", []consumer.Option{consumer.WithQueueWeights(map[string]int{"high": -1, "low": 1})}, `queue "high" has weight -1`},
		{"no weights", []consumer.Option{consumer.WithQueueWeights(nil)}, "has no queue"},
		{"weights with an unknown queue", []consumer.Option{consumer.WithQueueWeights(map[string]int{"high": 2, "urgent": 1})}, `queue "urgent" given to WithQueueWeights has no registered task`},
		{"weights with an invalid queue", []consumer.Option{consumer.WithQueueWeights(map[string]int{"High Queue": 2})}, "must be one token"},
		{"weights twice for a queue", []consumer.Option{consumer.WithQueueWeights(map[string]int{"high": 2}), consumer.WithQueueWeights(map[string]int{"high": 3})}, `queue "high" is given twice`},
		{"weights and other queues", []consumer.Option{consumer.WithQueues("high"), consumer.WithQueueWeights(map[string]int{"high": 2, "low": 1})}, "give the same queues"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := consumer.New(b.js, reg, tc.opts...)
			if !errors.Is(err, consumer.ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: got %v, want ErrInvalidOption saying %q", err, tc.want)
			}
			if w != nil {
				t.Fatal("New returned a worker with its error")
			}
		})
	}
	for _, opts := range [][]consumer.Option{
		{consumer.WithQueues("low", "high"), consumer.WithStrictPriority()},
		{consumer.WithQueueWeights(map[string]int{"high": 3, "low": 1})},
		{consumer.WithQueues("low", "high"), consumer.WithQueueWeights(map[string]int{"high": 3, "low": 1})},
	} {
		if _, err := consumer.New(b.js, reg, opts...); err != nil {
			t.Errorf("New with good priority options: %v", err)
		}
	}
}

// TestStrictPriorityTakesTheHigherQueueFirst: a worker of 4 slots takes
// queues high then low strictly. 1 000 low tasks are queued and 4 of them
// run, held until the test lets them go; 10 high tasks are enqueued then.
// Once the slots free, all 10 high tasks start before any further low
// task.
func TestStrictPriorityTakesTheHigherQueueFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	high := tasks.Define[int]("prio.urgent", tasks.WithQueue("high"))
	low := tasks.Define[int]("prio.batch", tasks.WithQueue("low"))
	var mu sync.Mutex
	var order []string
	gate := make(chan struct{})
	lowRunning := make(chan struct{}, 1000)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, high, func(context.Context, *tasks.Task[int]) error {
		mu.Lock()
		order = append(order, "high")
		mu.Unlock()
		return nil
	})
	tasks.MustHandle(reg, low, func(ctx context.Context, _ *tasks.Task[int]) error {
		mu.Lock()
		order = append(order, "low")
		mu.Unlock()
		lowRunning <- struct{}{}
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if _, err := producer.EnqueueBatch(ctx, b.p, low, make([]int, 1000)); err != nil {
		t.Fatal(err)
	}
	const slots = 4
	rw := jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(slots),
		consumer.WithQueues("high", "low"), consumer.WithStrictPriority())
	for range slots {
		select {
		case <-lowRunning:
		case <-time.After(30 * time.Second):
			t.Fatal("the low tasks did not start")
		}
	}
	// The high type keeps a waiting pull while low tasks run.
	testkit.WaitFor(t, 10*time.Second, func() error {
		c, err := b.js.Consumer(ctx, "JETQ_TASKS", "high:prio:urgent")
		if err != nil {
			return err
		}
		if n := c.CachedInfo().NumWaiting; n < 1 {
			return fmt.Errorf("the high type has %d pulls waiting, want 1", n)
		}
		return nil
	})
	if _, err := producer.EnqueueBatch(ctx, b.p, high, make([]int, 10)); err != nil {
		t.Fatal(err)
	}
	// The first high task reaches the worker while its slots are busy.
	testkit.WaitFor(t, 10*time.Second, func() error {
		if held, _ := consumer.Held(rw.Worker); held != slots+1 {
			return fmt.Errorf("the worker holds %d tasks, want %d", held, slots+1)
		}
		return nil
	})
	close(gate)
	testkit.WaitFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if n := len(order); n < slots+10+1 {
			return fmt.Errorf("%d tasks started", n)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	after := order[slots:]
	if i := slices.Index(after, "low"); i < 10 {
		t.Errorf("after the slots freed, a low task started %d tasks in, before all 10 high tasks: %v", i+1, after[:11])
	}
}

// TestQueueWeightsShareTheStarts: a worker of 8 slots serves three queues
// weighted 6, 3 and 1, each with a backlog larger than its share of 10 000
// starts. Over the first 10 000 starts each queue's share is its weight's
// within 10%. Three task types share the first queue, so that the shares
// are of queues, not of types.
func TestQueueWeightsShareTheStarts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const total = 10_000
	weights := map[string]int{"critical": 6, "default": 3, "low": 1}
	var started atomic.Int64
	var counts sync.Map // queue → *atomic.Int64, counted until total starts
	reg := tasks.NewRegistry()
	var defs []*tasks.Definition[int]
	for q := range weights {
		n := new(atomic.Int64)
		counts.Store(q, n)
		types := 1
		if q == "critical" {
			types = 3
		}
		for i := range types {
			def := tasks.Define[int](fmt.Sprintf("share.%s%d", q, i), tasks.WithQueue(q))
			defs = append(defs, def)
			tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[int]) error {
				if started.Add(1) <= total {
					n.Add(1)
				}
				return nil
			})
		}
	}
	// Each queue holds its share of the starts and half as much again.
	for _, def := range defs {
		q := def.Spec().Queue
		per := total * weights[q] / 10 * 3 / 2
		if q == "critical" {
			per /= 3
		}
		if _, err := producer.EnqueueBatch(ctx, b.p, def, make([]int, per)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(8), consumer.WithQueueWeights(weights))
	testkit.WaitFor(t, 120*time.Second, func() error {
		if n := started.Load(); n < total {
			return fmt.Errorf("%d of %d tasks started", n, total)
		}
		return nil
	})
	took := time.Since(start)
	for q, weight := range weights {
		v, _ := counts.Load(q)
		got := float64(v.(*atomic.Int64).Load()) / total
		want := float64(weight) / 10
		if got < want*0.9 || got > want*1.1 {
			t.Errorf("queue %s weighted %d had %.1f%% of the starts, want %.1f%% ± 10%%", q, weight, got*100, want*100)
		}
		t.Logf("queue %s weighted %d: %.2f%% of %d starts (want %.0f%%)", q, weight, got*100, total, want*100)
	}
	t.Logf("%d starts in %v", total, took)
}

// TestARareTypeIsNotStarvedByABacklog: one worker of 4 slots runs a
// backlog of 6 000 tasks of one type, 2 ms each, and 20 tasks of a rare
// type are enqueued one after another while it runs. Each rare task starts
// while the backlog is still there, not after it (before, the backlog's
// prefetch kept the worker above the level at which an idle type may pull:
// a chord's callback waited 8 to 10 s behind a backlog). The rare tasks'
// pickup is logged, p50 and p99, with the backlog's handling time.
func TestARareTypeIsNotStarvedByABacklog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const backlog, rares, work = 6000, 20, 2 * time.Millisecond
	bulk := tasks.Define[int]("starve.bulk")
	rare := tasks.Define[int]("starve.rare")
	var bulkStarted atomic.Int64
	type start struct {
		pickup time.Duration
		bulk   int64 // backlog tasks started before it
	}
	rareStarted := make(chan start, rares)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, bulk, func(context.Context, *tasks.Task[int]) error {
		bulkStarted.Add(1)
		time.Sleep(work) // the work
		return nil
	})
	tasks.MustHandle(reg, rare, func(_ context.Context, tk *tasks.Task[int]) error {
		rareStarted <- start{pickup: time.Since(tk.EnqueuedAt), bulk: bulkStarted.Load()}
		return nil
	})
	if _, err := producer.EnqueueBatch(ctx, b.p, bulk, make([]int, backlog)); err != nil {
		t.Fatal(err)
	}
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(4))
	testkit.WaitFor(t, 30*time.Second, func() error {
		if n := bulkStarted.Load(); n < 200 {
			return fmt.Errorf("%d backlog tasks started", n)
		}
		return nil
	})
	var pickups []time.Duration
	for i := range rares {
		if _, err := producer.Enqueue(ctx, b.p, rare, i); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-rareStarted:
			if s.bulk >= backlog {
				t.Fatalf("rare task %d started after the whole backlog (%v after its enqueue)", i, s.pickup)
			}
			pickups = append(pickups, s.pickup)
		case <-time.After(60 * time.Second):
			t.Fatalf("rare task %d did not start", i)
		}
	}
	left := backlog - bulkStarted.Load()
	slices.Sort(pickups)
	t.Logf("rare tasks behind a backlog of %v tasks on 4 slots: pickup p50 %v, p99 %v, max %v (%d backlog tasks still queued at the last)",
		work, pickups[len(pickups)/2], pickups[len(pickups)*99/100], pickups[len(pickups)-1], left)
}

// TestQueueWeightsPassOverACappedQueue: the heavier queue's only type is
// capped at one task at a time across the cluster (tasks.WithMaxConcurrency)
// and its tasks take 20 ms; the lighter queue's 300 tasks, no-ops, all run
// while the heavier queue still has most of its 100 tasks queued, rather
// than waiting behind its batches, which the server holds until the
// running task is acknowledged.
func TestQueueWeightsPassOverACappedQueue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	capped := tasks.Define[int]("weights.capped", tasks.WithQueue("critical"), tasks.WithMaxConcurrency(1))
	light := tasks.Define[int]("weights.light")
	var cappedDone atomic.Int64
	lightDone := make(chan int64, 300)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, capped, func(context.Context, *tasks.Task[int]) error {
		time.Sleep(20 * time.Millisecond) // the work
		cappedDone.Add(1)
		return nil
	})
	tasks.MustHandle(reg, light, func(context.Context, *tasks.Task[int]) error {
		lightDone <- cappedDone.Load()
		return nil
	})
	if _, err := producer.EnqueueBatch(ctx, b.p, capped, make([]int, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := producer.EnqueueBatch(ctx, b.p, light, make([]int, 300)); err != nil {
		t.Fatal(err)
	}
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(8),
		consumer.WithQueueWeights(map[string]int{"critical": 6, "default": 1}))
	var last int64
	for i := range 300 {
		select {
		case last = <-lightDone:
		case <-time.After(60 * time.Second):
			t.Fatalf("%d of 300 tasks of the light queue ran", i)
		}
	}
	if last >= 50 {
		t.Errorf("the light queue's last task ran after %d of the capped queue's 100 tasks; want it long before", last)
	}
	t.Logf("the light queue's 300 tasks ran while the capped queue ran %d of its 100", last)
}

// TestStrictPriorityWhileLowTasksFlow: as TestStrictPriorityTakesTheHigherQueueFirst,
// but the low tasks run (5 ms each) rather than wait for the test. Once the
// worker has taken in the first of 10 high tasks enqueued while they flow,
// no more low tasks start before the last high one than the worker held
// or had asked for then (its slots, as lower queues do not prefetch),
// with as many again for runners that take their tasks in order but
// start them out of order; the count, and how long the high tasks took
// from their enqueue, are logged. The count starts when the worker holds
// a high task, not when it is stored: the server sends it at once, but
// the worker takes it in only when its pull's subscription runs, which a
// loaded machine may put off for many low tasks.
func TestStrictPriorityWhileLowTasksFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	high := tasks.Define[int]("flow.urgent", tasks.WithQueue("high"))
	low := tasks.Define[int]("flow.batch", tasks.WithQueue("low"))
	var mu sync.Mutex
	var order []string
	var enqueued, lastHigh time.Time
	var worker atomic.Pointer[consumer.Worker]
	var arrived atomic.Bool // the worker has taken a high task in
	highDone := make(chan struct{}, 10)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, high, func(context.Context, *tasks.Task[int]) error {
		arrived.Store(true)
		mu.Lock()
		order = append(order, "high")
		lastHigh = time.Now()
		mu.Unlock()
		highDone <- struct{}{}
		return nil
	})
	tasks.MustHandle(reg, low, func(context.Context, *tasks.Task[int]) error {
		if w := worker.Load(); !arrived.Load() && w != nil && consumer.HeldOf(w, high.Name()) > 0 {
			arrived.Store(true)
		}
		mu.Lock()
		if arrived.Load() {
			order = append(order, "low after")
		} else {
			order = append(order, "low")
		}
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // the work
		return nil
	})
	if _, err := producer.EnqueueBatch(ctx, b.p, low, make([]int, 1000)); err != nil {
		t.Fatal(err)
	}
	const slots = 4
	rw := jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(slots),
		consumer.WithQueues("high", "low"), consumer.WithStrictPriority())
	worker.Store(rw.Worker)
	testkit.WaitFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if n := len(order); n < 100 {
			return fmt.Errorf("%d low tasks started", n)
		}
		return nil
	})
	mu.Lock()
	before := len(order)
	enqueued = time.Now()
	mu.Unlock()
	if _, err := producer.EnqueueBatch(ctx, b.p, high, make([]int, 10)); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		select {
		case <-highDone:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of 10 high tasks started", i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// The low tasks that started once the worker held a high task and
	// before the last of them, and all low tasks since the enqueue began.
	lows, run, all := 0, 0, 0
	for _, q := range order[before:] {
		switch q {
		case "high":
			lows, run = lows+run, 0
		case "low after":
			run++
		}
		if q != "high" {
			all++
		}
	}
	all -= run
	if lows > 2*slots {
		t.Errorf("%d low tasks started once the worker held a high task and before the last of them; want at most %d: the slots, what the worker may have held or asked for then, twice", lows, 2*slots)
	}
	t.Logf("%d low tasks (5 ms each, %d slots) started once the worker held a high task and before the last of them (%d since their enqueue began); the last started %v after the enqueue began",
		lows, slots, all, lastHigh.Sub(enqueued))
}
