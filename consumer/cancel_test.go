package consumer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/cancels"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// inspector is an Inspector of b's server.
func inspector(t *testing.T, b *bundle) *inspect.Inspector {
	t.Helper()
	in, err := inspect.New(b.js, inspect.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// cancelled waits for the tracked task id to read status cancelled.
func cancelled(t *testing.T, in *inspect.Inspector, id string) status.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := in.WaitStatus(ctx, id)
	if err != nil || st.State != status.Cancelled {
		t.Fatalf("status of task %s: %+v, %v; want cancelled", id, st, err)
	}
	return st
}

// noDeadLetters fails t if the dead-letter stream holds a record.
func noDeadLetters(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	s, err := js.Stream(context.Background(), "JETQ_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 0 {
		t.Errorf("dead-letter records: %d, want none: a cancelled task is not dead-lettered", n)
	}
}

// recordRuns starts a worker whose handler of def records its runs.
func recordRuns(t *testing.T, b *bundle, def *tasks.Definition[Args]) *recorder {
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	return rec
}

func TestCancelRunningTaskCancelsItsHandlersCtx(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("test.cancel.running", tasks.WithStateTracking(), tasks.WithMaxAttempts(5))
	started := make(chan string, 10)
	causes := make(chan error, 10)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		started <- tk.ID
		if tk.Payload.N == 0 {
			return nil // the task run after the cancel
		}
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	})
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(2))
	in := inspector(t, b)
	r, err := producer.Enqueue(ctx, b.p, def, Args{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	if id := <-started; id != r.ID {
		t.Fatalf("started %s, want %s", id, r.ID)
	}
	if err := in.Cancel(ctx, inspect.Ref{ID: r.ID}); err != nil {
		t.Fatal(err)
	}
	select {
	case cause := <-causes:
		if !errors.Is(cause, tasks.ErrCancelled) {
			t.Errorf("cause of the handler's ctx: %v, want tasks.ErrCancelled", cause)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the handler's ctx was not cancelled")
	}
	st := cancelled(t, in, r.ID)
	if st.Attempt != 1 {
		t.Errorf("attempts: %d, want 1: a cancelled task is not retried", st.Attempt)
	}
	workEmpty(t, b.js)
	noDeadLetters(t, b.js)
	if err := in.Cancel(ctx, inspect.Ref{ID: r.ID}); !errors.Is(err, inspect.ErrMovedOn) {
		t.Errorf("second cancel: %v, want ErrMovedOn", err)
	}
	// The runner whose ctx the cancel ended runs the next task with a new one.
	next, err := producer.Enqueue(ctx, b.p, def, Args{N: 0})
	if err != nil {
		t.Fatal(err)
	}
	if id := <-started; id != next.ID {
		t.Fatalf("started %s, want %s", id, next.ID)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if st, err := in.WaitStatus(wctx, next.ID); err != nil || st.State != status.Done {
		t.Errorf("task after the cancel: %+v, %v; want done", st, err)
	}
}

func TestCancelQueuedTaskNeverRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("test.cancel.queued", tasks.WithStateTracking())
	in := inspector(t, b)
	r, err := producer.Enqueue(ctx, b.p, def, Args{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Cancel(ctx, inspect.Ref{ID: r.ID}); err != nil {
		t.Fatal(err)
	}
	cancelled(t, in, r.ID)
	if n := jetqtest.Msgs(t, b.js, "JETQ_TASKS"); n != 0 {
		t.Errorf("work stream holds %d tasks after the cancel, want 0: a queued task is deleted", n)
	}
	rec := recordRuns(t, b, def)
	after, err := producer.Enqueue(ctx, b.p, def, Args{N: 2})
	if err != nil {
		t.Fatal(err)
	}
	if c := rec.next(t, 30*time.Second); c.task.ID != after.ID {
		t.Errorf("ran %s, want only %s: the cancelled task ran", c.task.ID, after.ID)
	}
}

// A record stored while the task is still in the work stream (the
// delete lost the race with a delivery, or failed) is enough: the worker
// settles the task as cancelled, unrun.
func TestCancelRecordDropsTaskAtPickup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("test.cancel.record", tasks.WithStateTracking())
	in := inspector(t, b)
	r, err := producer.Enqueue(ctx, b.p, def, Args{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	err = cancels.New(b.js, topology.Topology{}).Put(ctx, wire.Cancel{ID: r.ID, Queue: "default", Task: def.Name(), At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	rec := recordRuns(t, b, def)
	cancelled(t, in, r.ID)
	workEmpty(t, b.js)
	noDeadLetters(t, b.js)
	if n := rec.count(); n != 0 {
		t.Errorf("handler ran %d times, want 0", n)
	}
}

// A handler that ignores its cancelled ctx runs on until its timeout
// abandons it; the task is then settled as cancelled, not retried. A
// handler that returns nil after the cancel has done its task: done.
func TestCancelledHandlerThatIgnoresOrFinishes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("test.cancel.stubborn", tasks.WithStateTracking(), tasks.WithMaxAttempts(5),
		tasks.WithTimeout(time.Second), tasks.WithAckWait(3*time.Second))
	started := make(chan string, 2)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		started <- tk.ID
		if tk.Payload.N == 1 {
			<-release // ignores its ctx
			return errors.New("late")
		}
		<-ctx.Done()
		return nil // finished all the same
	})
	jetqtest.StartWorker(t, b.srv, reg)
	in := inspector(t, b)
	for _, tc := range []struct {
		n    int
		want status.State
	}{{1, status.Cancelled}, {2, status.Done}} {
		r, err := producer.Enqueue(ctx, b.p, def, Args{N: tc.n})
		if err != nil {
			t.Fatal(err)
		}
		<-started
		if err := in.Cancel(ctx, inspect.Ref{ID: r.ID}); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		st, err := in.WaitStatus(wctx, r.ID)
		cancel()
		if err != nil || st.State != tc.want || st.Attempt != 1 {
			t.Errorf("task %d: status %+v, %v; want %s after 1 attempt", tc.n, st, err, tc.want)
		}
	}
	workEmpty(t, b.js)
	noDeadLetters(t, b.js)
}

// A task waiting out a retry backoff reads cancelled at once, and its next
// delivery is dropped unrun.
func TestCancelRetryingTaskNeverRunsAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("test.cancel.retrying", tasks.WithStateTracking(), tasks.WithMaxAttempts(5))
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return tasks.RetryAfter(2*time.Second, errors.New("not yet"))
	})
	jetqtest.StartWorker(t, b.srv, reg)
	in := inspector(t, b)
	r, err := producer.Enqueue(ctx, b.p, def, Args{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	rec.next(t, 30*time.Second)
	testkit.WaitFor(t, 30*time.Second, func() error {
		if st, err := in.Status(ctx, r.ID); err != nil || st.State != status.Retrying {
			return errors.New("not retrying yet")
		}
		return nil
	})
	if err := in.Cancel(ctx, inspect.Ref{ID: r.ID}); err != nil {
		t.Fatal(err)
	}
	if st, err := in.Status(ctx, r.ID); err != nil || st.State != status.Cancelled {
		t.Errorf("status right after the cancel: %+v, %v; want cancelled", st, err)
	}
	workEmpty(t, b.js) // its next delivery, dropped
	noDeadLetters(t, b.js)
	if n := rec.count(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
	if st, err := in.Status(ctx, r.ID); err != nil || st.State != status.Cancelled {
		t.Errorf("status at the end: %+v, %v; want cancelled", st, err)
	}
}
