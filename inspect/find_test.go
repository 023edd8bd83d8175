package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestFind finds a task in each place the server may hold it.
func TestFind(t *testing.T) {
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	f, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := f.Find(ctx, "nothing"); err != nil || r.Found() {
		t.Fatalf("Find on an empty server: %+v %v", r, err)
	}
	if names := streamNames(t, js); len(names) != 0 {
		t.Fatalf("Find created %v", names)
	}

	idle := tasks.Define[string]("mail.idle")
	busy := tasks.Define[string]("mail.busy")
	dead := tasks.Define[string]("mail.dead", tasks.WithStateTracking())
	later := tasks.Define[string]("mail.later")
	dead2 := tasks.Define[string]("mail.dead2")
	started, release := make(chan struct{}, 1), make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, busy, func(ctx context.Context, _ *tasks.Task[string]) error {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	tasks.MustHandle(reg, dead, func(context.Context, *tasks.Task[string]) error { return tasks.Permanent(errors.New("bounced")) })
	tasks.MustHandle(reg, dead2, func(context.Context, *tasks.Task[string]) error { return tasks.Permanent(errors.New("bounced")) })
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	enqueue := func(def *tasks.Definition[string], id string, opts ...producer.EnqueueOption) {
		t.Helper()
		if _, err := producer.Enqueue(ctx, p, def, "x", append(opts, producer.WithID(id))...); err != nil {
			t.Fatal(err)
		}
	}
	enqueue(idle, "idle:1")
	enqueue(busy, "busy:1")
	enqueue(dead, "dead:1")
	enqueue(later, "later:1", producer.WithDelay(time.Hour))
	jetqtest.StartWorkerOn(t, js, reg)
	t.Cleanup(func() { close(release) }) // before the worker's stop
	<-started

	r, err := f.Find(ctx, "idle:1")
	if err != nil || r.Work == nil || r.Work.State != "queued" || r.Work.Task != "mail.idle" || string(r.Work.Payload) != `"x"` || r.Status != nil {
		t.Errorf("an untracked queued task: %+v %v", r, err)
	}
	if r, err := f.Find(ctx, "busy:1"); err != nil || r.Work == nil || r.Work.State != inspect.WorkDelivered {
		t.Errorf("an untracked task its handler runs: want delivered, no status telling more: %+v %v", r, err)
	}
	if r, err := f.Find(ctx, "later:1"); err != nil || r.Scheduled == nil || r.Scheduled.Task != "mail.later" || r.Work != nil {
		t.Errorf("a delayed task: %+v %v", r, err)
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		r, err := f.Find(ctx, "dead:1")
		if err != nil {
			return err
		}
		if len(r.DeadLetters) != 1 || r.Status == nil || r.Status.State != "dead_lettered" || r.Work != nil {
			return errors.New("not dead-lettered yet")
		}
		if q, n := r.Task(); q != "default" || n != "mail.dead" {
			t.Errorf("Task() = %s %s", q, n)
		}
		return nil
	})

	// An untracked dead-lettered task is found among the newest records,
	// and an older one not within a bound of one record.
	enqueue(dead2, "dead2:1")
	enqueue(dead2, "dead2:2")
	older, seq := "", uint64(0)
	testkit.WaitFor(t, 10*time.Second, func() error {
		older, seq = "", 0
		for _, id := range []string{"dead2:1", "dead2:2"} {
			r, err := f.Find(ctx, id)
			if err != nil {
				return err
			}
			if len(r.DeadLetters) != 1 || r.DeadLetters[0].Task != "mail.dead2" {
				return errors.New("not dead-lettered yet")
			}
			if e := r.DeadLetters[0]; older == "" || e.Seq < seq {
				older, seq = id, e.Seq
			}
		}
		return nil
	})
	one, err := inspect.New(js, inspect.WithDeadLetterScan(1))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := one.Find(ctx, older); err != nil || len(r.DeadLetters) != 0 || len(r.Notes) != 1 ||
		!strings.Contains(r.Notes[0], "read the newest 1 dead-letter records") {
		t.Errorf("an older record beyond the bound: %+v %v", r, err)
	}

	// A bounded scan says where it stopped.
	small, err := inspect.New(js, inspect.WithScan(1))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := small.Find(ctx, "nothing"); err != nil || r.Found() || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "read the first 1 messages") {
		t.Errorf("a scan of 1: %+v %v", r, err)
	}
	if _, err := f.Find(ctx, ""); !errors.Is(err, inspect.ErrInvalidQuery) {
		t.Errorf("an empty ID: %v", err)
	}
	if _, err := inspect.New(js, inspect.WithScan(-1)); !errors.Is(err, inspect.ErrInvalidOption) {
		t.Errorf("a negative scan: %v", err)
	}
	if _, err := inspect.New(js, inspect.WithDeadLetterScan(0)); !errors.Is(err, inspect.ErrInvalidOption) {
		t.Errorf("a dead-letter scan of 0: %v", err)
	}
}

// TestFindCreatesNothing looks a task up on a server whose dead-letter
// and event streams were deleted: they stay deleted.
func TestFindCreatesNothing(t *testing.T) {
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"JETQ_DLQ", "JETQ_EVENTS", "JETQ_SCHEDULES"} {
		if err := js.DeleteStream(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	f, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := f.Find(ctx, "x"); err != nil || r.Found() {
		t.Fatalf("Find: %+v %v", r, err)
	}
	if names := streamNames(t, js); len(names) != 1 || names[0] != "JETQ_TASKS" {
		t.Errorf("streams after Find: %v, want only JETQ_TASKS", names)
	}
}

func streamNames(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	var names []string
	l := js.StreamNames(context.Background())
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// TestWorkStateFollowsStatus finds tracked tasks delivered and not
// acknowledged: the one waiting out its backoff is waiting to retry in the
// work stream as in its status, never running; the one its handler runs is
// running in both.
func TestWorkStateFollowsStatus(t *testing.T) {
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	f, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[string]("mail.tracked", tasks.WithStateTracking(), tasks.WithMaxAttempts(3))
	started, release := make(chan struct{}, 1), make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[string]) error {
		if tk.Payload == "retry" {
			return tasks.RetryAfter(time.Hour, errors.New("mailbox full"))
		}
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"retry", "block"} {
		if _, err := producer.Enqueue(ctx, p, def, id, producer.WithID(id)); err != nil {
			t.Fatal(err)
		}
	}
	jetqtest.StartWorkerOn(t, js, reg)
	t.Cleanup(func() { close(release) }) // before the worker's stop
	<-started

	for id, want := range map[string][2]string{"retry": {"retrying", inspect.WorkWaitingToRetry}, "block": {"running", inspect.WorkRunning}} {
		testkit.WaitFor(t, 10*time.Second, func() error {
			r, err := f.Find(ctx, id)
			switch {
			case err != nil:
				return err
			case r.Status == nil || string(r.Status.State) != want[0]:
				return fmt.Errorf("task %s: status %+v, want %s", id, r.Status, want[0])
			case r.Work == nil || r.Work.State != want[1]:
				return fmt.Errorf("task %s, %s: work stream %+v, want %s", id, want[0], r.Work, want[1])
			}
			return nil
		})
	}
}
