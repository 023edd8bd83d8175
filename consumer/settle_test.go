package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// A filing that fails goes on in the background; the connection's close
// then stops the worker by force while that filing waits to try again. The
// worker must return ErrConnectionClosed, not take the process down (issue
// 24: a nil error was read there).
func TestForcedStopWhileFilingInBackgroundReturns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.filing.closed")
	var conn atomic.Pointer[nats.Conn]
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		conn.Load().Close() // the filing that follows cannot reach the server
		return tasks.Permanent(errors.New("declined"))
	})
	rw := jetqtest.StartWorker(t, b.srv, reg)
	conn.Store(rw.Conn())
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	if err := rw.Wait(t, 30*time.Second); !errors.Is(err, consumer.ErrConnectionClosed) {
		t.Errorf("Run: got %v, want ErrConnectionClosed", err)
	}
}

// A middleware's panic fails the attempt like a handler's: the worker goes
// on and the task is dead-lettered on its last attempt.
func TestPanickingMiddlewareFailsOnlyTheAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.middleware.panic", tasks.WithMaxAttempts(1))
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error { return nil })
	boom := func(next tasks.Handler) tasks.Handler {
		return func(ctx context.Context, env *tasks.Envelope) error { panic("middleware bug") }
	}
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithMiddleware(boom))
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	recs := dlqRecords(t, b.js, 1)
	if got := recs[0].Header.Get("Jetq-Dlq-Reason"); got != "max_attempts" {
		t.Errorf("reason: got %q, want max_attempts", got)
	}
	if got := recs[0].Header.Get("Jetq-Dlq-Error"); !strings.Contains(got, "middleware bug") {
		t.Errorf("error: got %q, want the panic's value", got)
	}
	workEmpty(t, b.js)
}

// A dead-letter middleware's panic fails that try at filing the record, in
// the runner or in the background; the record is filed at the next try.
func TestPanickingDeadLetterMiddlewareFailsOnlyTheTry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.dlmiddleware.panic")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		return tasks.Permanent(errors.New("declined"))
	})
	var tries atomic.Int32
	boom := func(next tasks.Enqueuer) tasks.Enqueuer {
		return func(ctx context.Context, batch []*tasks.Envelope) []error {
			if tries.Add(1) <= 2 {
				panic("dead-letter middleware bug")
			}
			return next(ctx, batch)
		}
	}
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithDeadLetterMiddleware(boom))
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	recs := dlqRecords(t, b.js, 1)
	if got := recs[0].Header.Get("Jetq-Dlq-Reason"); got != "permanent" {
		t.Errorf("reason: got %q, want permanent", got)
	}
	workEmpty(t, b.js)
	if got := tries.Load(); got != 3 {
		t.Errorf("tries at filing: got %d, want 3", got)
	}
}

// A worker files a task's record and loses its connection before its Term
// reaches the server: the task comes back to another worker, which must
// terminate it, not run it and ack it (issue 24: it then sat both in the
// dead-letter stream and done, and a replay ran it a third time).
func TestRedeliveredTaskWithFiledRecordIsTerminatedNotRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.filed.redelivered", tasks.WithAckWait(time.Second))
	regA := tasks.NewRegistry()
	tasks.MustHandle(regA, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		return tasks.Permanent(errors.New("declined"))
	})
	var conn atomic.Pointer[nats.Conn]
	cut := func(next tasks.Enqueuer) tasks.Enqueuer {
		return func(ctx context.Context, batch []*tasks.Envelope) []error {
			errs := next(ctx, batch)
			if errs[0] == nil {
				conn.Load().Close() // the record is stored; the Term cannot follow
			}
			return errs
		}
	}
	a := jetqtest.StartWorker(t, b.srv, regA, consumer.WithDeadLetterMiddleware(cut))
	conn.Store(a.Conn())
	r, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(t, 30*time.Second); !errors.Is(err, consumer.ErrConnectionClosed) {
		t.Fatalf("Run: got %v, want ErrConnectionClosed", err)
	}

	rec := newRecorder()
	regB := tasks.NewRegistry()
	tasks.MustHandle(regB, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return nil
	})
	jetqtest.StartWorker(t, b.srv, regB)
	workEmpty(t, b.js) // after the ack wait, the second worker settles it
	recs := dlqRecords(t, b.js, 1)
	checkRecord(t, recs[0], r, "permanent", 1)
	if got := rec.count(); got != 0 {
		t.Errorf("the dead-lettered task ran again %d time(s) on the second worker, want 0", got)
	}
}

// A forced stop abandons a handler that ignores its ctx; the handler
// returns on its own later, through a middleware that reads the outcome.
// The abandon, on another goroutine, must not write the envelope that the
// handler's goroutine reads (issue 24; -race failed here), and the
// middleware sees the settlement the abandon applied: handed back.
func TestAbandonedHandlerSeesTheAbandonsOutcome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.abandon.outcome")
	started, redelivered := make(chan struct{}), make(chan struct{})
	seen := make(chan tasks.Outcome, 1)
	spy := func(next tasks.Handler) tasks.Handler {
		return func(ctx context.Context, env *tasks.Envelope) error {
			err := next(ctx, env)
			seen <- env.Outcome
			return err
		}
	}
	regA := tasks.NewRegistry()
	tasks.MustHandle(regA, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		close(started)
		<-redelivered // ignores ctx; returns once another worker has the task
		return nil
	})
	a := jetqtest.StartWorker(t, b.srv, regA, consumer.WithMiddleware(spy))
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	<-started
	// The second worker waits for the task, and the stop runs on a
	// goroutine of its own: nothing the test does orders the abandon's
	// writes before the abandoned handler's reads.
	var once sync.Once
	regB := tasks.NewRegistry()
	tasks.MustHandle(regB, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		once.Do(func() { close(redelivered) })
		return nil
	})
	jetqtest.StartWorker(t, b.srv, regB)
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		stopped <- a.Shutdown(ctx)
	}()
	select {
	case o := <-seen:
		if o.Action != tasks.ActionRelease {
			t.Errorf("the abandoned handler's middleware saw %v, want the hand-back", o.Action)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the abandoned handler did not return within 30s")
	}
	if err := <-stopped; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: got %v, want deadline exceeded", err)
	}
}

// A first try at filing a record that lasts longer than the ack wait (here
// a dead-letter middleware holds it for its whole try, two ack waits,
// unless the task runs again first) keeps the delivery heartbeated: the
// server does not redeliver the task meanwhile, so it runs once and its
// record is filed once. Before, the heartbeat skipped a delivery settled but
// not yet in the background filing, and the server redelivered it at the end
// of its ack wait, before the record existed.
func TestSlowFirstFilingIsHeartbeated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.filing.slow", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(3))
	var calls atomic.Int32
	again := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		if calls.Add(1) == 2 {
			close(again)
		}
		return tasks.Permanent(errors.New("declined"))
	})
	var tries atomic.Int32
	slow := func(next tasks.Enqueuer) tasks.Enqueuer {
		return func(ctx context.Context, batch []*tasks.Envelope) []error {
			if tries.Add(1) == 1 {
				select { // the whole first try (fileTimeout), unless the task runs again
				case <-ctx.Done():
				case <-again:
				}
			}
			return next(ctx, batch)
		}
	}
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithDeadLetterMiddleware(slow))
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	recs := dlqRecords(t, b.js, 1)
	workEmpty(t, b.js)
	if got := recs[0].Header.Get("Jetq-Dlq-Reason"); got != "permanent" {
		t.Errorf("reason: got %q, want permanent", got)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("handler calls: %d, want 1: the task was redelivered while its record was being filed", n)
	}
}

// TestAbandonFilingKeepsOtherDeliveriesAlive: a handler that overruns its
// timeout is abandoned and, on its last attempt, dead-lettered. Filing its
// record may take a while; meanwhile another task runs, and its delivery
// must go on being heartbeated, or the server hands it to a runner again.
func TestAbandonFilingKeepsOtherDeliveriesAlive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stuck := tasks.Define[Args]("test.abandon.stuck", tasks.WithAckWait(time.Second),
		tasks.WithTimeout(100*time.Millisecond), tasks.WithMaxAttempts(1))
	healthy := tasks.Define[Args]("test.abandon.healthy", tasks.WithAckWait(time.Second))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	started, filed := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, stuck, func(context.Context, *tasks.Task[Args]) error {
		<-release // ignores its ctx: only an abandon ends the attempt
		return nil
	})
	tasks.MustHandle(reg, healthy, func(ctx context.Context, tk *tasks.Task[Args]) error {
		if calls.Add(1) == 1 {
			close(started)
		}
		select { // runs across the whole filing of the abandoned task
		case <-filed:
		case <-ctx.Done():
		}
		return nil
	})
	var tries atomic.Int32
	slow := func(next tasks.Enqueuer) tasks.Enqueuer {
		return func(ctx context.Context, batch []*tasks.Envelope) []error {
			if tries.Add(1) == 1 {
				<-ctx.Done() // the whole first try: fileTimeout, twice the ack wait
				defer close(filed)
			}
			return next(ctx, batch)
		}
	}
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(4), consumer.WithDeadLetterMiddleware(slow))
	if _, err := producer.Enqueue(context.Background(), b.p, healthy, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	<-started
	if _, err := producer.Enqueue(context.Background(), b.p, stuck, Args{N: 2}); err != nil {
		t.Fatal(err)
	}
	dlqRecords(t, b.js, 1)
	workEmpty(t, b.js)
	if n := calls.Load(); n != 1 {
		t.Errorf("healthy task's handler calls: %d, want 1: its delivery went without a heartbeat while the abandoned task's record was filed", n)
	}
}

// An abandoned handler that returns while the abandon is still filing its
// task's record leaves the delivery to the abandon, which settles it: the
// delivery stays in the worker's hands, heartbeated and counted, until its
// record is filed and the task terminated. Before, the runner of the
// returning handler let the delivery go as the filing began: out of the
// hands the heartbeat keeps alive and out of the intake's count, while
// its record was still to be filed.
func TestAbandonedHandlerReturningDuringFilingLeavesItHeld(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.abandon.returns", tasks.WithTimeout(100*time.Millisecond), tasks.WithMaxAttempts(1))
	filing, file := make(chan struct{}), make(chan struct{})
	returned := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[Args]) error {
		<-filing // ignores its ctx: returns once the abandon files the record
		return nil
	})
	spy := func(next tasks.Handler) tasks.Handler {
		return func(ctx context.Context, env *tasks.Envelope) error {
			err := next(ctx, env)
			close(returned)
			return err
		}
	}
	var tries atomic.Int32
	slow := func(next tasks.Enqueuer) tasks.Enqueuer {
		return func(ctx context.Context, batch []*tasks.Envelope) []error {
			if tries.Add(1) == 1 {
				close(filing)
				select { // until the test has looked, within the try's fileTimeout
				case <-file:
				case <-ctx.Done():
				}
			}
			return next(ctx, batch)
		}
	}
	w := jetqtest.StartWorker(t, b.srv, reg, consumer.WithMiddleware(spy), consumer.WithDeadLetterMiddleware(slow))
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	<-returned
	testkit.WaitFor(t, 10*time.Second, func() error {
		if _, running := consumer.Held(w.Worker); running != 0 {
			return fmt.Errorf("%d handlers running", running)
		}
		return nil
	})
	held := consumer.HeldOf(w.Worker, def.Name())
	close(file)
	if held != 1 {
		t.Errorf("deliveries held while the abandon files the record: %d, want 1", held)
	}
	recs := dlqRecords(t, b.js, 1)
	workEmpty(t, b.js)
	if got := recs[0].Header.Get("Jetq-Dlq-Reason"); got != "timeout" {
		t.Errorf("reason: got %q, want timeout", got)
	}
}
