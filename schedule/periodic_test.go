package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

func TestPeriodicTaskDeclaredByThreeProcessesFiresOncePerTick(t *testing.T) {
	t.Parallel()
	srv, js, _, _ := setupServer(t)
	in := newInspector(t, js)
	def := tasks.Define[string]("metrics.rollup")
	var got runs
	reg := recorder(def, &got)
	jetqtest.StartWorkerOn(t, js, reg)
	ctx := context.Background()
	p := schedule.Periodic{Name: "rollup.every-second", Schedule: "@every 1s"}
	// Three "processes", each with a connection of its own, declare at once.
	var wg sync.WaitGroup
	for range 3 {
		_, pjs := embeddedtest.Connect(t, srv)
		s, err := schedule.New(pjs, schedule.WithLogger(testkit.Logger(t)))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := schedule.Declare(ctx, s, def, p, "all"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	start := time.Now()
	s, err := schedule.New(js)
	if err != nil {
		t.Fatal(err)
	}
	// Declaring again changes nothing.
	if err := schedule.Declare(ctx, s, def, p, "all"); err != nil {
		t.Fatal(err)
	}
	list, err := in.PeriodicTasks(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("PeriodicTasks: %+v, %v; want one", list, err)
	}
	if next := time.Until(list[0].Next); list[0].Task != "metrics.rollup" || next < -time.Second || next > 2*time.Second {
		t.Errorf("listed %+v; next in %v", list[0], next)
	}
	time.Sleep(10 * time.Second)
	if err := in.RemovePeriodic(ctx, p.Name); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	time.Sleep(1500 * time.Millisecond)
	all := got.all()
	ticks := int(elapsed / time.Second)
	if n := len(all); n < ticks-1 || n > ticks+1 {
		t.Errorf("%d runs in %v, want %d ± 1", n, elapsed.Round(time.Millisecond), ticks)
	}
	seen := map[string]bool{}
	for _, r := range all {
		if seen[r.ID] {
			t.Errorf("tick %s ran twice", r.ID)
		}
		seen[r.ID] = true
		tick, err := time.Parse(time.RFC3339, r.ID[len(p.Name)+1:])
		if err != nil || r.ID != schedule.ID(p.Name, tick) {
			t.Errorf("ID %q does not follow <name>@<tick>", r.ID)
			continue
		}
		if late := r.At.Sub(tick); late < 0 || late > time.Second {
			t.Errorf("tick %s ran %v after its time", r.ID, late)
		}
	}
	t.Logf("%d runs in %v", len(all), elapsed.Round(time.Millisecond))
	if err := in.RemovePeriodic(ctx, p.Name); !errors.Is(err, inspect.ErrNotFound) {
		t.Errorf("second remove: %v, want ErrNotFound", err)
	}
}

func TestStaleTicksAreSkippedWithStaleAfter(t *testing.T) {
	t.Parallel()
	js, _, s := setup(t)
	in := newInspector(t, js)
	def := tasks.Define[string]("feed.refresh")
	ctx := context.Background()
	p := schedule.Periodic{Name: "refresh", Schedule: "@every 1s", StaleAfter: time.Second}
	if err := schedule.Declare(ctx, s, def, p, "all"); err != nil {
		t.Fatal(err)
	}
	// No worker for a while: ticks pile up in the queue.
	time.Sleep(4500 * time.Millisecond)
	var got runs
	var expired atomic.Int64
	reg := recorder(def, &got)
	jetqtest.StartWorkerOn(t, js, reg, consumer.WithMiddleware(countExpired(&expired)))
	testkit.WaitFor(t, 5*time.Second, func() error {
		if expired.Load() < 2 {
			return fmt.Errorf("%d ticks expired", expired.Load())
		}
		return nil
	})
	time.Sleep(1500 * time.Millisecond)
	if err := in.RemovePeriodic(ctx, p.Name); err != nil {
		t.Fatal(err)
	}
	// The ticks that waited longer than StaleAfter expired; the fresh ones ran.
	for _, r := range got.all() {
		tick, err := time.Parse(time.RFC3339, r.ID[len(p.Name)+1:])
		if err != nil {
			t.Fatal(err)
		}
		if late := r.At.Sub(tick); late > p.StaleAfter {
			t.Errorf("tick %s ran %v after its time, past StaleAfter", r.ID, late)
		}
	}
	t.Logf("%d stale ticks skipped, %d ran", expired.Load(), len(got.all()))
}

func TestChangedDeclarationReplacesTheOld(t *testing.T) {
	t.Parallel()
	js, _, s := setup(t)
	in := newInspector(t, js)
	def := tasks.Define[int]("cleanup.run")
	ctx := context.Background()
	p := schedule.Periodic{Name: "cleanup", Schedule: "0 0 3 * * *", TimeZone: "Europe/Berlin"}
	if err := schedule.Declare(ctx, s, def, p, 1); err != nil {
		t.Fatal(err)
	}
	first, err := in.PeriodicTask(ctx, "cleanup")
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if n := first.Next.In(berlin); n.Hour() != 3 || n.Minute() != 0 || time.Until(n) > 24*time.Hour {
		t.Errorf("next firing %v, want the next 03:00 in Berlin", n)
	}
	p.Schedule = "@hourly"
	if err := schedule.Declare(ctx, s, def, p, 1); err != nil {
		t.Fatal(err)
	}
	second, err := in.PeriodicTask(ctx, "cleanup")
	if err != nil || second.Schedule != "@hourly" || !second.DeclaredAt.After(first.DeclaredAt) {
		t.Fatalf("after the change: %+v, %v", second, err)
	}
	if list, err := in.PeriodicTasks(ctx); err != nil || len(list) != 1 {
		t.Errorf("PeriodicTasks: %d, %v; want the one declaration", len(list), err)
	}
}

func TestBadDeclarationsAreRefused(t *testing.T) {
	t.Parallel()
	js, _, s := setup(t)
	in := newInspector(t, js)
	def := tasks.Define[int]("bad.periodic")
	ctx := context.Background()
	cases := map[string]schedule.Periodic{
		"invalid cron":               {Name: "a", Schedule: "0 61 * * * *"},
		"five-field cron":            {Name: "a", Schedule: "*/5 * * * *"},
		"unknown descriptor":         {Name: "a", Schedule: "@fortnightly"},
		"every below a second":       {Name: "a", Schedule: "@every 500ms"},
		"unknown time zone":          {Name: "a", Schedule: "0 0 * * * *", TimeZone: "Mars/Olympus"},
		"time zone with @every":      {Name: "a", Schedule: "@every 1m", TimeZone: "UTC"},
		"invalid name":               {Name: "Not A Name", Schedule: "@hourly"},
		"stale after below a second": {Name: "a", Schedule: "@hourly", StaleAfter: time.Millisecond},
	}
	for name, p := range cases {
		if err := schedule.Declare(ctx, s, def, p, 1); !errors.Is(err, schedule.ErrInvalidOption) {
			t.Errorf("%s: got %v, want ErrInvalidOption", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if list, err := in.PeriodicTasks(ctx); err != nil || len(list) != 0 {
		t.Errorf("stored: %d, %v", len(list), err)
	}
	for _, name := range []string{">", "*", "a.>"} {
		if err := in.RemovePeriodic(ctx, name); !errors.Is(err, inspect.ErrInvalidQuery) {
			t.Errorf("RemovePeriodic(%q): got %v, want ErrInvalidQuery", name, err)
		}
	}
}

func TestExpiredTasksNeverReachTheHandler(t *testing.T) {
	t.Parallel()
	js, p, _ := setup(t)
	def := tasks.Define[int]("password.reset", tasks.WithExpiry(time.Second), tasks.WithStateTracking())
	var got runs
	reg := recorder(def, &got)
	ctx := context.Background()
	// Enqueued while no worker runs: they expire in the queue, one of them
	// delayed first.
	for i := range 5 {
		if _, err := producer.Enqueue(ctx, p, def, i, producer.WithID(fmt.Sprintf("late-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := producer.Enqueue(ctx, p, def, 5, producer.WithID("late-5"), producer.WithDelay(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	// A call's own deadline, which a worker running in time meets.
	if _, err := producer.Enqueue(ctx, p, def, 9, producer.WithID("in-time"), producer.WithDeadline(time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	tr, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	// Within a minute of its deadline a queued task still reads queued: a
	// worker may be about to pick it up (and then records it as expired).
	if st, err := tr.Status(ctx, "late-0"); err != nil || st.State != status.Queued {
		t.Errorf("late-0 before any worker: %+v, %v; want queued", st.State, err)
	}
	var expired atomic.Int64
	jetqtest.StartWorkerOn(t, js, reg, consumer.WithMiddleware(countExpired(&expired)))
	testkit.WaitFor(t, 10*time.Second, func() error {
		if got.count("in-time") != 1 || expired.Load() != 6 {
			return fmt.Errorf("in-time ran %d times, %d expired", got.count("in-time"), expired.Load())
		}
		return nil
	})
	if n := len(got.all()); n != 1 {
		t.Errorf("%d tasks ran, want only in-time", n)
	}
	for i := range 6 {
		id := fmt.Sprintf("late-%d", i)
		st, err := tr.Status(ctx, id)
		if err != nil || st.State != status.Expired || st.Deadline.IsZero() {
			t.Errorf("%s: %+v, %v; want expired with its deadline", id, st, err)
		}
	}
	if st, err := tr.Status(ctx, "in-time"); err != nil || st.State != status.Done {
		t.Errorf("in-time: %+v, %v; want done", st.State, err)
	}
}
