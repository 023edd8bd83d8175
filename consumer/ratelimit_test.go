package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/internal/ratelimit"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// counts are the counter totals of the rate stream, by subject.
func counts(t *testing.T, js jetstream.JetStream) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, "JETQ_RATES")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for subj := range info.State.Subjects {
		m, err := s.GetLastMsgForSubject(ctx, subj)
		if err != nil {
			t.Fatal(err)
		}
		// A counter's message holds its total: {"val":"12"}.
		v := strings.Trim(strings.TrimPrefix(strings.TrimSpace(string(m.Data)), `{"val":`), `"}`)
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("counter %s holds %q: %v", subj, m.Data, err)
		}
		out[subj] = n
	}
	return out
}

// granted is what the counters with prefix granted: min(n, total) each.
func granted(c map[string]int64, prefix string, n int64) (sum int64, refused bool) {
	for subj, total := range c {
		if strings.HasPrefix(subj, prefix) {
			sum += min(total, n)
			refused = refused || total > n
		}
	}
	return sum, refused
}

// durableInfo is what the server says of a task type's durable.
func durableInfo(t *testing.T, js jetstream.JetStream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx := context.Background()
	cons, err := js.Consumer(ctx, "JETQ_TASKS", durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// exhaustNext uses up the next window of a limit, so that a test that
// runs across a window's end sees no more starts than in one window.
func exhaustNext(t *testing.T, js jetstream.JetStream, subject func(index int64) string, n int) {
	t.Helper()
	c := ratelimit.New(js, topology.Topology{})
	ctx := context.Background()
	if err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	index, _ := ratelimit.Window(time.Now(), tasks.MaxRatePer)
	if _, err := c.Take(ctx, subject(index+1), n, n); err != nil {
		t.Fatal(err)
	}
}

func TestRateLimitHoldsAcrossWorkersAndQueuesTheRest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("rate.type", tasks.WithRateLimit(5, tasks.MaxRatePer))
	counter := ratelimit.New(b.js, topology.Topology{})
	exhaustNext(t, b.js, func(i int64) string { return counter.TypeSubject(def.Spec(), i) }, 5)
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(_ context.Context, task *tasks.Task[Args]) error {
		rec.record(task)
		return nil
	})
	for range 2 {
		jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(4))
	}
	ctx := context.Background()
	for i := range 12 {
		if _, err := producer.Enqueue(ctx, b.p, def, Args{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	// Both workers' gates ask until the server refuses them.
	prefix := "jetq.rate.t.default.rate.type."
	testkit.WaitFor(t, 30*time.Second, func() error {
		sum, refused := granted(counts(t, b.js), prefix, 5)
		if !refused || int64(rec.count()) < sum-5 {
			return fmt.Errorf("%d handled, %d granted past the next window's, a refusal: %v", rec.count(), sum-5, refused)
		}
		return nil
	})
	info := durableInfo(t, b.js, "default:rate:type")
	sum, _ := granted(counts(t, b.js), prefix, 5)
	if got := rec.count(); got < 5 || int64(got) > sum-5 {
		t.Errorf("handled %d tasks, want from 5 to the %d the windows granted", got, sum-5)
	}
	if d := info.Delivered.Consumer; d != uint64(rec.count()) || info.NumPending != uint64(12-rec.count()) {
		t.Errorf("the server delivered %d tasks and keeps %d, want %d delivered (only what was granted) and the rest kept",
			d, info.NumPending, rec.count())
	}
	for _, c := range rec.calls {
		if c.task.Attempt != 1 {
			t.Errorf("task %s ran as attempt %d, want 1", c.task.ID, c.task.Attempt)
		}
	}
}

func TestRateLimitedQueueWaitingForItsWindowLetsLowerQueuesRun(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]consumer.Option{
		"strict":  consumer.WithStrictPriority(),
		"weights": consumer.WithQueueWeights(map[string]int{"high": 9, "low": 1}),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			high := tasks.Define[Args]("rate.high", tasks.WithQueue("high"), tasks.WithRateLimit(1, tasks.MaxRatePer))
			low := tasks.Define[Args]("rate.low", tasks.WithQueue("low"))
			counter := ratelimit.New(b.js, topology.Topology{})
			exhaustNext(t, b.js, func(i int64) string { return counter.TypeSubject(high.Spec(), i) }, 1)
			rec := newRecorder()
			reg := tasks.NewRegistry()
			for _, def := range []*tasks.Definition[Args]{high, low} {
				tasks.MustHandle(reg, def, func(_ context.Context, task *tasks.Task[Args]) error {
					rec.record(task)
					return nil
				})
			}
			ctx := context.Background()
			enqueue := func(def *tasks.Definition[Args]) {
				for i := range 3 {
					if _, err := producer.Enqueue(ctx, b.p, def, Args{N: i}); err != nil {
						t.Fatal(err)
					}
				}
			}
			enqueue(high)
			jetqtest.StartWorker(t, b.srv, reg, consumer.WithQueues("high", "low"), opt, consumer.WithConcurrency(2))
			// One high task takes the hour's start, and the gate is
			// refused the next: the high queue has tasks it may not start.
			if c := rec.next(t, 30*time.Second); c.task.Name != "rate.high" {
				t.Fatalf("first ran %s, want rate.high", c.task.Name)
			}
			testkit.WaitFor(t, 30*time.Second, func() error {
				if _, refused := granted(counts(t, b.js), "jetq.rate.t.high.rate.high.", 1); !refused {
					return errors.New("the high type has not asked for another start yet")
				}
				return nil
			})
			enqueue(low)
			for range 3 {
				if c := rec.next(t, 30*time.Second); c.task.Name != "rate.low" {
					t.Errorf("ran %s, want the low tasks while the high queue waits for its window", c.task.Name)
				}
			}
		})
	}
}

func TestKeyRateLimitHoldsTasksWithoutSlotsOrAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	limited := tasks.Define[Args]("rate.key", tasks.WithKeyRateLimit(1, tasks.MaxRatePer))
	plain := tasks.Define[Args]("rate.plain")
	counter := ratelimit.New(b.js, topology.Topology{})
	for _, key := range []string{"a", "b"} {
		exhaustNext(t, b.js, func(i int64) string { return counter.KeySubject(limited.Spec(), key, i) }, 1)
	}
	rec := newRecorder()
	var mu sync.Mutex
	perKey := map[string]int{}
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, limited, func(_ context.Context, task *tasks.Task[Args]) error {
		mu.Lock()
		perKey[tasks.KeyOf(task.Header)]++
		mu.Unlock()
		rec.record(task)
		return nil
	})
	tasks.MustHandle(reg, plain, func(_ context.Context, task *tasks.Task[Args]) error {
		rec.record(task)
		return nil
	})
	// One slot: tasks held for their key must not hold it.
	w := jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(1))
	ctx := context.Background()
	for i := range 3 {
		for _, key := range []string{"a", "b"} {
			if _, err := producer.Enqueue(ctx, b.p, limited, Args{N: i}, producer.WithKey(key)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := producer.Enqueue(ctx, b.p, limited, Args{N: i}); err != nil { // no key: not limited by key
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if _, err := producer.Enqueue(ctx, b.p, plain, Args{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	// a and b once each, three without a key, five plain.
	testkit.WaitFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if n := rec.count(); n < 10 {
			return fmt.Errorf("%d tasks ran (by key %v), want 10", n, perKey)
		}
		return nil
	})
	mu.Lock()
	if perKey["a"] != 1 || perKey["b"] != 1 || perKey[""] != 3 {
		t.Errorf("ran by key %v, want a:1 b:1 and 3 without a key", perKey)
	}
	mu.Unlock()
	for _, c := range rec.calls {
		if c.task.Attempt != 1 {
			t.Errorf("task %s ran as attempt %d, want 1", c.task.ID, c.task.Attempt)
		}
	}
	// The four held are in the worker's hands, heartbeated, not redelivered.
	info := durableInfo(t, b.js, "default:rate:key")
	if info.NumAckPending != 4 || info.NumRedelivered != 0 {
		t.Errorf("ack pending %d, redelivered %d; want the 4 held pending and none redelivered", info.NumAckPending, info.NumRedelivered)
	}
	// A stop waits for held tasks' windows; past its deadline it hands them back.
	sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if err := w.Shutdown(sctx); err == nil {
		t.Error("Shutdown returned nil with tasks held for an hour's window, want its ctx's error")
	}
	if err := w.Wait(t, 30*time.Second); err != nil {
		t.Errorf("Run: %v", err)
	}
	if n := jetqtest.Msgs(t, b.js, "JETQ_TASKS"); n != 4 {
		t.Errorf("work stream holds %d tasks after the stop, want the 4 held", n)
	}
}

func TestKeyHoldsAreBoundedPerType(t *testing.T) {
	t.Parallel()
	b := setup(t)
	limited := tasks.Define[Args]("rate.bounded", tasks.WithKeyRateLimit(1, tasks.MaxRatePer))
	plain := tasks.Define[Args]("rate.beside")
	counter := ratelimit.New(b.js, topology.Topology{})
	exhaustNext(t, b.js, func(i int64) string { return counter.KeySubject(limited.Spec(), "a", i) }, 1)
	rec := newRecorder()
	reg := tasks.NewRegistry()
	for _, def := range []*tasks.Definition[Args]{limited, plain} {
		tasks.MustHandle(reg, def, func(_ context.Context, task *tasks.Task[Args]) error {
			rec.record(task)
			return nil
		})
	}
	ctx := context.Background()
	const burst, holdMax, slots = 400, 256, 4
	if _, err := producer.EnqueueBatch(ctx, b.p, limited, make([]Args, burst), producer.WithKey("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := producer.EnqueueBatch(ctx, b.p, plain, make([]Args, 50)); err != nil {
		t.Fatal(err)
	}
	// A stop waits for held tasks' windows, an hour away, then hands them back.
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(slots), consumer.WithShutdownTimeout(time.Second))
	// The worker holds up to holdMax of the burst, then pulls no more of
	// it; the type beside it runs all its tasks.
	testkit.WaitFor(t, 60*time.Second, func() error {
		cons, err := b.js.Consumer(ctx, "JETQ_TASKS", "default:rate:bounded")
		if err != nil {
			return err
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		if n := rec.count(); n < 51 || info.NumAckPending < holdMax {
			return fmt.Errorf("%d tasks ran, %d held; want 51 (50 beside, 1 of the key) and at least %d held", n, info.NumAckPending, holdMax)
		}
		return nil
	})
	info := durableInfo(t, b.js, "default:rate:bounded")
	// Pulls opened before the bound was reached may bring a batch more.
	if info.NumAckPending > holdMax+2*slots || info.NumPending == 0 || info.NumRedelivered != 0 {
		t.Errorf("held %d, left on the server %d, redelivered %d; want at most %d held, the rest left, none redelivered",
			info.NumAckPending, info.NumPending, info.NumRedelivered, holdMax+2*slots)
	}
	if n := rec.count(); n != 51 {
		t.Errorf("%d tasks ran, want 51", n)
	}
}
