package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/topology"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

func TestBatchHandledExactlyOnceAcrossTwoWorkers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.batch")
	const n = 10_000

	var mu sync.Mutex
	seen := make(map[string]int, n)
	perWorker := [2]atomic.Int64{}
	done := make(chan struct{})
	var handled atomic.Int64
	for i := range 2 {
		reg := tasks.NewRegistry()
		tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
			mu.Lock()
			seen[tk.ID]++
			mu.Unlock()
			perWorker[i].Add(1)
			if handled.Add(1) == n {
				close(done)
			}
			return nil
		})
		jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(8))
	}

	payloads := make([]Args, n)
	for i := range payloads {
		payloads[i] = Args{N: i}
	}
	results, err := producer.EnqueueBatch(context.Background(), b.p, def, payloads)
	if err != nil {
		t.Fatal(err)
	}
	ids := make(map[string]bool, n)
	for i, r := range results {
		if r.Err != nil || r.Duplicate || r.Sequence == 0 {
			t.Fatalf("result %d: %+v", i, r)
		}
		ids[r.ID] = true
	}
	if len(ids) != n {
		t.Fatalf("distinct IDs: got %d, want %d", len(ids), n)
	}

	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("handled %d of %d tasks", handled.Load(), n)
	}
	workEmpty(t, b.js)
	mu.Lock()
	defer mu.Unlock()
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("task %s handled %d times, want 1", id, seen[id])
		}
	}
	if len(seen) != n {
		t.Errorf("handled tasks: got %d distinct, want %d", len(seen), n)
	}
	for i := range perWorker {
		if perWorker[i].Load() == 0 {
			t.Errorf("worker %d handled nothing; the work was not shared", i)
		}
	}
	t.Logf("worker shares: %d / %d", perWorker[0].Load(), perWorker[1].Load())
}

func TestFailingHandlerRetriesWithGrowingBackoff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bo := tasks.Backoff{Initial: 200 * time.Millisecond, Multiplier: 2, Max: 10 * time.Second, Jitter: -1}
	def := tasks.Define[Args]("test.flaky", tasks.WithMaxAttempts(5), tasks.WithBackoff(bo))
	const failures = 3
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		if tk.Attempt <= failures {
			return fmt.Errorf("flaky failure %d", tk.Attempt)
		}
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	var calls []call
	for range failures + 1 {
		calls = append(calls, rec.next(t, 20*time.Second))
	}
	for i, c := range calls {
		if got, want := c.task.Attempt, i+1; got != want {
			t.Errorf("call %d: attempt %d, want %d", i, got, want)
		}
		if c.task.MaxAttempts != 5 {
			t.Errorf("call %d: max attempts %d, want 5", i, c.task.MaxAttempts)
		}
	}
	// Without jitter the n-th retry waits Initial×2^(n-1): 200, 400, 800 ms.
	for i := 1; i < len(calls); i++ {
		gap := calls[i].at.Sub(calls[i-1].at)
		want := bo.Initial << (i - 1)
		if gap < want || gap > want+time.Second {
			t.Errorf("gap before attempt %d: %v, want %v (+ at most 1s of scheduling)", i+1, gap, want)
		}
	}
	workEmpty(t, b.js)
	if rec.count() != failures+1 {
		t.Errorf("handler calls: got %d, want %d", rec.count(), failures+1)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.ratelimited", tasks.WithBackoff(tasks.Backoff{Initial: 10 * time.Second, Max: time.Minute}))
	const delay = 700 * time.Millisecond
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		if tk.Attempt == 1 {
			return tasks.RetryAfter(delay, errors.New("429 too many requests"))
		}
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{}); err != nil {
		t.Fatal(err)
	}
	first, second := rec.next(t, 10*time.Second), rec.next(t, 10*time.Second)
	if gap := second.at.Sub(first.at); gap < delay || gap > delay+time.Second {
		t.Errorf("retry came after %v, want %v (not the 10s backoff)", gap, delay)
	}
}

func TestPermanentErrorIsDeadLetteredOnceWithoutRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.permanent", tasks.WithMaxAttempts(10))
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return tasks.Permanent(errors.New("card declined"))
	})
	jetqtest.StartWorker(t, b.srv, reg)
	r, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 7, Note: "keep me"}, producer.WithHeader("X-Tenant", "acme"))
	if err != nil {
		t.Fatal(err)
	}
	recs := dlqRecords(t, b.js, 1)
	workEmpty(t, b.js)
	m := recs[0]
	checkRecord(t, m, r, "permanent", 1)
	if got := m.Header.Get("Jetq-Dlq-Error"); got != "permanent: card declined" {
		t.Errorf("error: got %q", got)
	}
	if got := m.Header.Get("X-Tenant"); got != "acme" {
		t.Errorf("original header X-Tenant: got %q, want acme", got)
	}
	if got, want := string(m.Data), `{"n":7,"note":"keep me"}`; got != want {
		t.Errorf("payload: got %s, want %s", got, want)
	}
	if rec.count() != 1 {
		t.Errorf("handler calls: got %d, want 1", rec.count())
	}
}

// checkRecord checks the failure headers of a dead-letter record.
func checkRecord(t *testing.T, m *jetstream.RawStreamMsg, r producer.Result, reason string, deliveries int) {
	t.Helper()
	h := m.Header
	for k, want := range map[string]string{
		"Jetq-Id":             r.ID,
		"Jetq-Enqueued-At":    "",
		"Jetq-Dlq-Reason":     reason,
		"Jetq-Dlq-Stream":     "JETQ_TASKS",
		"Jetq-Dlq-Seq":        strconv.FormatUint(r.Sequence, 10),
		"Jetq-Dlq-Deliveries": strconv.Itoa(deliveries),
	} {
		if want == "" {
			if h.Get(k) == "" {
				t.Errorf("record lacks %s", k)
			}
			continue
		}
		if got := h.Get(k); got != want {
			t.Errorf("record %s: got %q, want %q", k, got, want)
		}
	}
	if h.Get("Jetq-Dlq-At") == "" || h.Get("Jetq-Dlq-Subject") == "" {
		t.Errorf("record lacks time or subject: %v", h)
	}
	// "<stream>:<seq>:<stored at>": unique beyond the stream's life.
	if id, want := h.Get("Nats-Msg-Id"), "JETQ_TASKS:"+strconv.FormatUint(r.Sequence, 10)+":"; !strings.HasPrefix(id, want) || len(id) == len(want) {
		t.Errorf("record Nats-Msg-Id: got %q, want %q and the stored time", id, want)
	}
}

func TestInvalidPayloadAtWorkerIsDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.poison", tasks.WithMaxAttempts(10))
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return nil
	})
	// A good task so the streams exist, then poison published around the producer.
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	for i, body := range []string{`{"n": "not a number"`, `{"n": -5}`} {
		msg := nats.NewMsg("jetq.task.default.test.poison")
		msg.Data = []byte(body)
		msg.Header.Set("Nats-Msg-Id", "poison-"+strconv.Itoa(i))
		if _, err := b.js.PublishMsg(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	jetqtest.StartWorker(t, b.srv, reg)
	recs := dlqRecords(t, b.js, 2)
	workEmpty(t, b.js)
	for _, m := range recs {
		if got := m.Header.Get("Jetq-Dlq-Reason"); got != "invalid_payload" {
			t.Errorf("reason: got %q, want invalid_payload", got)
		}
		if got := m.Header.Get("Jetq-Dlq-Deliveries"); got != "1" {
			t.Errorf("deliveries: got %s, want 1 (no retries)", got)
		}
	}
	errs := recs[0].Header.Get("Jetq-Dlq-Error") + " | " + recs[1].Header.Get("Jetq-Dlq-Error")
	for _, want := range []string{"unexpected end of JSON", "n must not be negative"} {
		if !strings.Contains(errs, want) {
			t.Errorf("errors %q do not say %q", errs, want)
		}
	}
	if rec.count() != 1 {
		t.Errorf("handler calls: got %d, want 1 (the good task only)", rec.count())
	}
}

func TestExhaustedAttemptsAreDeadLetteredOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.doomed", tasks.WithMaxAttempts(3),
		tasks.WithBackoff(tasks.Backoff{Initial: 50 * time.Millisecond, Max: 100 * time.Millisecond}))
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return fmt.Errorf("still broken on attempt %d", tk.Attempt)
	})
	jetqtest.StartWorker(t, b.srv, reg)
	r, err := producer.Enqueue(context.Background(), b.p, def, Args{})
	if err != nil {
		t.Fatal(err)
	}
	recs := dlqRecords(t, b.js, 1)
	workEmpty(t, b.js)
	checkRecord(t, recs[0], r, "max_attempts", 3)
	if got := recs[0].Header.Get("Jetq-Dlq-Error"); got != "still broken on attempt 3" {
		t.Errorf("error: got %q", got)
	}
	if rec.count() != 3 {
		t.Errorf("handler calls: got %d, want 3", rec.count())
	}
}

func TestPanickingHandlerIsRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.panics", tasks.WithBackoff(tasks.Backoff{Initial: 50 * time.Millisecond}))
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		if tk.Attempt == 1 {
			var m map[string]int
			m["boom"]++ // nil map write
		}
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{}); err != nil {
		t.Fatal(err)
	}
	if a := rec.next(t, 10*time.Second).task.Attempt; a != 1 {
		t.Errorf("first call attempt %d", a)
	}
	if a := rec.next(t, 10*time.Second).task.Attempt; a != 2 {
		t.Errorf("second call attempt %d", a)
	}
	workEmpty(t, b.js)
}

func TestTimedOutHandlerSeesItsCtxCancelled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.slow", tasks.WithTimeout(300*time.Millisecond), tasks.WithMaxAttempts(1))
	ctxErr := make(chan error, 1)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		<-ctx.Done()
		ctxErr <- ctx.Err()
		return ctx.Err()
	})
	jetqtest.StartWorker(t, b.srv, reg)
	r, err := producer.Enqueue(context.Background(), b.p, def, Args{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ctxErr:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("handler ctx: got %v, want deadline exceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler ctx never cancelled")
	}
	recs := dlqRecords(t, b.js, 1)
	checkRecord(t, recs[0], r, "timeout", 1)
}

func TestHandlerIgnoringItsTimeoutIsAbandoned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.stuck", tasks.WithTimeout(200*time.Millisecond), tasks.WithMaxAttempts(1),
		tasks.WithAckWait(time.Second))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		<-release // ignores ctx
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	r, err := producer.Enqueue(context.Background(), b.p, def, Args{})
	if err != nil {
		t.Fatal(err)
	}
	recs := dlqRecords(t, b.js, 1)
	checkRecord(t, recs[0], r, "timeout", 1)
}

func TestLongHandlerIsNotRedeliveredWhileAlive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const ackWait = time.Second
	def := tasks.Define[Args]("test.long", tasks.WithAckWait(ackWait))
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		select {
		case <-time.After(3*ackWait + 500*time.Millisecond): // work outliving the ack wait
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	// Two workers, so a redelivery would have somewhere to go.
	jetqtest.StartWorker(t, b.srv, reg)
	jetqtest.StartWorker(t, b.srv, reg)
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{}); err != nil {
		t.Fatal(err)
	}
	rec.next(t, 10*time.Second)
	workEmpty(t, b.js)
	if n := rec.count(); n != 1 {
		t.Errorf("handler calls: got %d, want 1", n)
	}
	info, err := b.js.Consumer(context.Background(), "JETQ_TASKS", "default:test:long")
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().NumRedelivered; got != 0 {
		t.Errorf("redelivered: got %d, want 0", got)
	}
}

func TestShutdownWaitsForRunningHandler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.graceful")
	started, finished := make(chan struct{}), make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		close(started)
		time.Sleep(500 * time.Millisecond) // the work itself
		close(finished)
		return nil
	})
	rw := jetqtest.StartWorker(t, b.srv, reg)
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{}); err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rw.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-finished:
	default:
		t.Fatal("Shutdown returned before the handler finished")
	}
	if err := rw.Wait(t, 10*time.Second); err != nil {
		t.Errorf("Run: %v", err)
	}
	workEmpty(t, b.js)
	if err := rw.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestShutdownDeadlineHandsTaskToAnotherWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.handover")
	first := make(chan struct{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	regA := tasks.NewRegistry()
	tasks.MustHandle(regA, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		close(first)
		<-release // outlives any deadline, ignoring ctx
		return nil
	})
	a := jetqtest.StartWorker(t, b.srv, regA)
	r, err := producer.Enqueue(context.Background(), b.p, def, Args{})
	if err != nil {
		t.Fatal(err)
	}
	<-first
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := a.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: got %v, want deadline exceeded", err)
	}

	rec := newRecorder()
	regB := tasks.NewRegistry()
	tasks.MustHandle(regB, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return nil
	})
	jetqtest.StartWorker(t, b.srv, regB) // ack wait 30 s: only the hand-back makes this quick
	c := rec.next(t, 10*time.Second)
	if c.task.ID != r.ID || c.task.Attempt != 2 {
		t.Errorf("second worker got %s attempt %d, want %s attempt 2", c.task.ID, c.task.Attempt, r.ID)
	}
}

func TestKilledWorkerTasksAreRedelivered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.crash", tasks.WithAckWait(time.Second))
	first := make(chan struct{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	regA := tasks.NewRegistry()
	tasks.MustHandle(regA, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		close(first)
		<-release
		return nil
	})
	a := jetqtest.StartWorker(t, b.srv, regA)
	r, err := producer.Enqueue(context.Background(), b.p, def, Args{})
	if err != nil {
		t.Fatal(err)
	}
	<-first
	a.Conn().Close() // the process dies: its connection goes, no ack, no Nak
	if err := a.Wait(t, 10*time.Second); !errors.Is(err, consumer.ErrConnectionClosed) {
		t.Errorf("Run: got %v, want ErrConnectionClosed", err)
	}

	rec := newRecorder()
	regB := tasks.NewRegistry()
	tasks.MustHandle(regB, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return nil
	})
	jetqtest.StartWorker(t, b.srv, regB)
	c := rec.next(t, 15*time.Second)
	if c.task.ID != r.ID || c.task.Attempt != 2 {
		t.Errorf("redelivered %s attempt %d, want %s attempt 2", c.task.ID, c.task.Attempt, r.ID)
	}
	workEmpty(t, b.js)
}

func TestDuplicateIDRunsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.dedup")
	ctx := context.Background()
	r1, err := producer.Enqueue(ctx, b.p, def, Args{N: 1}, producer.WithID("welcome:42"))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := producer.Enqueue(ctx, b.p, def, Args{N: 2}, producer.WithID("welcome:42"))
	if err != nil {
		t.Fatal(err)
	}
	if r1.Duplicate || !r2.Duplicate || r2.Sequence != r1.Sequence || r2.ID != "welcome:42" {
		t.Fatalf("results: %+v then %+v; want the second a duplicate of the first", r1, r2)
	}
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	c := rec.next(t, 10*time.Second)
	if c.task.ID != "welcome:42" || c.task.Payload.N != 1 {
		t.Errorf("handled %s with %+v, want welcome:42 with the first payload", c.task.ID, c.task.Payload)
	}
	workEmpty(t, b.js)
	cons, err := b.js.Consumer(ctx, "JETQ_TASKS", "default:test:dedup")
	if err != nil {
		t.Fatal(err)
	}
	if got := cons.CachedInfo().Delivered.Stream; got != r1.Sequence {
		t.Errorf("last delivered stream sequence %d, want %d: something else was delivered", got, r1.Sequence)
	}
	if rec.count() != 1 {
		t.Errorf("handler calls: got %d, want 1", rec.count())
	}
}

func TestWorkerRecreatesDeletedConsumer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.recover")
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	ctx := context.Background()
	if _, err := producer.Enqueue(ctx, b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	rec.next(t, 10*time.Second)
	workEmpty(t, b.js) // the ack has landed; otherwise the task rightly comes back
	if err := b.js.DeleteConsumer(ctx, "JETQ_TASKS", "default:test:recover"); err != nil {
		t.Fatal(err)
	}
	if _, err := producer.Enqueue(ctx, b.p, def, Args{N: 2}); err != nil {
		t.Fatal(err)
	}
	if c := rec.next(t, 20*time.Second); c.task.Payload.N != 2 {
		t.Errorf("after recovery handled %+v", c.task.Payload)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, tasks.Define[Args]("test.options"), func(context.Context, *tasks.Task[Args]) error { return nil })
	for name, tc := range map[string]struct {
		reg  *tasks.Registry
		opts []consumer.Option
		want error
	}{
		"zero concurrency": {reg, []consumer.Option{consumer.WithConcurrency(0)}, consumer.ErrInvalidOption},
		"bad queue":        {reg, []consumer.Option{consumer.WithQueues("Not A Queue")}, consumer.ErrInvalidOption},
		"bad prefix":       {reg, []consumer.Option{consumer.WithTopology(topology.Topology{Prefix: "a.b"})}, consumer.ErrInvalidOption},
		"no handlers":      {tasks.NewRegistry(), nil, consumer.ErrNoHandlers},
		"other queue only": {reg, []consumer.Option{consumer.WithQueues("critical")}, consumer.ErrNoHandlers},
	} {
		if _, err := consumer.New(b.js, tc.reg, tc.opts...); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
}

func TestWorkerSurvivesDroppedConnection(t *testing.T) {
	t.Parallel()
	srv := embeddedtest.Server(t, embedded.WithListen("127.0.0.1:0"))
	_, pjs := embeddedtest.Connect(t, srv)
	p, err := producer.New(pjs)
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{srv: srv, js: pjs, p: p}
	def := tasks.Define[Args]("test.reconnect")
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return nil
	})
	log, logged := newLogBook(t)
	rw := jetqtest.StartWorker(t, b.srv, reg, consumer.WithLogger(log))
	ctx := context.Background()
	if _, err := producer.Enqueue(ctx, p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	rec.next(t, 10*time.Second)

	cid, err := rw.Conn().GetClientID()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.NATS().DisconnectClientByID(cid); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		if !logged("jetq: connection lost; tasks pause until it is back") || !logged("jetq: connection restored; pulling again") {
			return errors.New("the worker did not log the lost and restored connection")
		}
		return nil
	})
	if _, err := producer.Enqueue(ctx, p, def, Args{N: 2}); err != nil {
		t.Fatal(err)
	}
	if c := rec.next(t, 20*time.Second); c.task.Payload.N != 2 {
		t.Errorf("after reconnect handled %+v, want N=2", c.task.Payload)
	}
}

func TestWorkerMatchesTheStreamsReplicas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.replicas")
	// The stream exists already, made by someone else with other settings
	// than the worker's own default; the consumer must follow the stream.
	for _, cfg := range []jetstream.StreamConfig{
		{Name: "JETQ_TASKS", Subjects: []string{"jetq.task.>"}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.MemoryStorage},
		{Name: "JETQ_DLQ", Subjects: []string{"jetq.dlq.>"}, Storage: jetstream.MemoryStorage},
		{Name: "JETQ_EVENTS", Subjects: []string{"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JETQ_TASKS.>"}, Storage: jetstream.MemoryStorage},
	} {
		if _, err := b.js.CreateStream(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithTopology(topology.Topology{Replicas: 3}))
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{}); err != nil {
		t.Fatal(err)
	}
	rec.next(t, 10*time.Second)
}
