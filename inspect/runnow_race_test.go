package inspect

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestRunNowRacesTheScheduler runs a delayed task now just after the
// server's scheduler fired it, and just before: either way one copy of
// the task reaches the work stream, and a worker runs it once.
func TestRunNowRacesTheScheduler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(js, WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[int]("race.run")
	ran := make(chan string, 10)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[int]) error {
		ran <- tk.ID
		return nil
	})
	_, wjs := embeddedtest.Connect(t, srv)
	w, err := consumer.New(wjs, reg, consumer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	t.Cleanup(func() { stop(); <-done })

	work := func() jetstream.StreamState {
		st, err := js.Stream(ctx, in.names.WorkStream())
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedInfo().State
	}
	waitRun := func(id string) {
		t.Helper()
		select {
		case got := <-ran:
			if got != id {
				t.Fatalf("ran %s; want %s", got, id)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("task %s did not run", id)
		}
	}

	// After: the scheduler fires first; the run-now publish of the schedule
	// read before it is refused by the server.
	r, err := producer.Enqueue(ctx, p, def, 1, producer.WithDelay(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, m, ti, err := in.schedule(ctx, Ref{ID: r.ID})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := js.Stream(ctx, in.names.ScheduleStream())
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, func() error {
		if _, err := sched.GetLastMsgForSubject(ctx, in.names.DelayedSubject(r.ID)); !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("the schedule is still there: %v", err)
		}
		return nil
	})
	if _, err := in.fireNow(ctx, m, ti); !errors.Is(err, ErrMovedOn) {
		t.Fatalf("run now after the scheduler fired: %v; want ErrMovedOn", err)
	}
	waitRun(r.ID)
	if n := work().LastSeq; n != 1 {
		t.Errorf("the work stream took %d messages; want the scheduler's one", n)
	}

	// Before: run now removes the schedule as it fires the task, so the
	// scheduler has nothing left to fire at its time.
	r, err = producer.Enqueue(ctx, p, def, 2, producer.WithDelay(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := in.RunNow(ctx, Ref{ID: r.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := sched.GetLastMsgForSubject(ctx, in.names.DelayedSubject(r.ID)); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("the schedule after run now: %v; want it gone", err)
	}
	waitRun(r.ID)
	if n := work().LastSeq; n != 2 {
		t.Errorf("the work stream took %d messages; want 2, one a task", n)
	}
}

// TestCancelRacesTheScheduler cancels a delayed task that the server's
// scheduler fires between the cancel's read of the schedule and its
// delete: the fired copy is dropped unrun.
func TestCancelRacesTheScheduler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(js, WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[int]("race.cancel")
	r, err := producer.Enqueue(ctx, p, def, 1, producer.WithDelay(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	st, m, ti, err := in.schedule(ctx, Ref{ID: r.ID})
	if err != nil {
		t.Fatal(err)
	}
	work, err := js.Stream(ctx, in.names.WorkStream())
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, func() error { // fired, and in the work stream
		if info, err := work.Info(ctx); err != nil || info.State.Msgs != 1 {
			return fmt.Errorf("work stream: %v, %v", info, err)
		}
		return nil
	})
	if taken, err := in.cancelDelayed(ctx, st, m, ti); err != nil || taken {
		t.Fatalf("cancel as the scheduler fired: taken %v, %v; want withdrawn", taken, err)
	}

	ran := make(chan string, 1)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[int]) error {
		ran <- tk.ID
		return nil
	})
	_, wjs := embeddedtest.Connect(t, srv)
	w, err := consumer.New(wjs, reg, consumer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	t.Cleanup(func() { stop(); <-done })
	testkit.WaitFor(t, 30*time.Second, func() error { // settled by the worker
		if info, err := work.Info(ctx); err != nil || info.State.Msgs != 0 {
			return fmt.Errorf("work stream: %v, %v", info, err)
		}
		return nil
	})
	select {
	case id := <-ran:
		t.Errorf("the cancelled task %s ran", id)
	default:
	}
}
