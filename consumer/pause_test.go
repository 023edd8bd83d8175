package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestPauseStopsTheTasksAWorkerHolds: the server's pause of a type's
// consumer stops new deliveries, and the worker does not start the tasks
// of the type it holds already: here two tasks held for their key while a
// third runs. They are set aside unrun, wait behind the paused consumer,
// and run once the type resumes, on their first attempt.
func TestPauseStopsTheTasksAWorkerHolds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("pause.held", tasks.WithKeyConcurrency(1))
	type start struct{ n, attempt int }
	started, release := make(chan start, 10), make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[Args]) error {
		started <- start{tk.Payload.N, tk.Attempt}
		if tk.Payload.N == 0 {
			<-release
		}
		return nil
	})
	w := jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(4))
	in, err := inspect.New(b.js)
	if err != nil {
		t.Fatal(err)
	}
	for n := range 3 {
		if _, err := producer.Enqueue(ctx, b.p, def, Args{N: n}, producer.WithKey("acme")); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			if s := <-started; s.n != 0 {
				t.Fatalf("first start: task %d, want 0", s.n)
			}
		}
	}
	testkit.WaitFor(t, 15*time.Second, func() error {
		if n := consumer.HeldOf(w.Worker, def.Name()); n != 3 {
			return fmt.Errorf("the worker holds %d tasks of the type, want 3 (one running, two for their key)", n)
		}
		return nil
	})
	scope := inspect.Scope{Queue: "default", Task: def.Name()}
	if err := in.Pause(ctx, scope, time.Time{}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 15*time.Second, func() error {
		if !consumer.PausedNow(w.Worker, "default", def.Name()) {
			return errors.New("the worker does not see the pause yet")
		}
		return nil
	})
	close(release) // the running task ends, and its key's place frees
	testkit.WaitFor(t, 15*time.Second, func() error {
		c, err := b.js.Consumer(ctx, "JETQ_TASKS", "default:pause:held")
		if err != nil {
			return err
		}
		if ci := c.CachedInfo(); ci.NumPending != 2 || ci.NumAckPending != 0 {
			return fmt.Errorf("the paused consumer: %d pending, %d unacknowledged; want the 2 held tasks set aside behind it, 0",
				ci.NumPending, ci.NumAckPending)
		}
		return nil
	})
	select {
	case s := <-started:
		t.Fatalf("task %d started while its type was paused", s.n)
	default:
	}
	if err := in.Resume(ctx, scope); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case s := <-started:
			if s.attempt != 1 {
				t.Errorf("task %d ran as attempt %d, want 1: a pause spends no attempt", s.n, s.attempt)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the set-aside tasks did not run after the resume")
		}
	}
}
