package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

func TestDelayedTasksRunOnceAndNotBeforeTheirTime(t *testing.T) {
	t.Parallel()
	js, p, _ := setup(t)
	in := newInspector(t, js)
	def := tasks.Define[int]("report.build")
	var got runs
	reg := recorder(def, &got)
	jetqtest.StartWorkerOn(t, js, reg)
	ctx := context.Background()
	due := map[string]time.Time{}
	for i := range 40 {
		d := time.Duration(i%8) * 250 * time.Millisecond
		r, err := producer.Enqueue(ctx, p, def, i, producer.WithDelay(d), producer.WithID(fmt.Sprintf("r%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		due[r.ID] = time.Now().Add(d)
	}
	// A batch with a caller-chosen run time.
	at := time.Now().Add(1500 * time.Millisecond)
	rs, err := producer.EnqueueBatch(ctx, p, def, []int{100, 101, 102}, producer.WithRunAt(at))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		due[r.ID] = at
		if r.Stream != "JETQ_SCHEDULES" {
			t.Errorf("delayed task %s stored by %s, want JETQ_SCHEDULES", r.ID, r.Stream)
		}
	}
	testkit.WaitFor(t, 20*time.Second, func() error {
		if n := len(got.all()); n < len(due) {
			return fmt.Errorf("%d of %d ran", n, len(due))
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // room for a second run to show
	for id := range due {
		if n := got.count(id); n != 1 {
			t.Errorf("task %s ran %d times", id, n)
		}
	}
	for _, r := range got.all() {
		// due was taken after the enqueue returned, so a run may start
		// a little before it; never more than that call's time.
		if early := due[r.ID].Sub(r.At); early > 100*time.Millisecond {
			t.Errorf("task %s ran %v before its time", r.ID, early)
		}
	}
	if l, err := in.Tasks(ctx, inspect.Query{State: inspect.Scheduled}); err != nil || len(l.Tasks) != 0 {
		t.Errorf("after all fired: %d delayed left, err %v", len(l.Tasks), err)
	}
}

func TestCancelledTaskNeverRuns(t *testing.T) {
	t.Parallel()
	js, p, _ := setup(t)
	in := newInspector(t, js)
	def := tasks.Define[string]("mail.remind")
	var got runs
	reg := recorder(def, &got)
	jetqtest.StartWorkerOn(t, js, reg)
	ctx := context.Background()
	for i := range 5 {
		if _, err := producer.Enqueue(ctx, p, def, "x", producer.WithID(fmt.Sprintf("keep-%d", i)), producer.WithDelay(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now()
	if _, err := producer.Enqueue(ctx, p, def, "x", producer.WithID("drop"), producer.WithDelay(time.Second)); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	list, err := in.Tasks(ctx, inspect.Query{State: inspect.Scheduled, Limit: 4})
	if err != nil || len(list.Tasks) != 4 {
		t.Fatalf("first page: %d entries, err %v; want 4", len(list.Tasks), err)
	}
	page, err := in.Tasks(ctx, inspect.Query{State: inspect.Scheduled, Limit: 4, Token: list.Next})
	rest := page.Tasks
	if err != nil || len(rest) != 2 || rest[1].ID != "drop" || rest[1].Task != "mail.remind" || rest[1].Queue != "default" {
		t.Fatalf("second page: %+v, err %v; want keep-4 and drop", rest, err)
	}
	if at := rest[1].RunAt; at.Before(before.Add(time.Second)) || at.After(after.Add(time.Second)) {
		t.Errorf("drop is due at %v, want 1s after its enqueue (%v to %v)", at, before, after)
	}
	if err := in.Cancel(ctx, rest[1].Ref()); err != nil {
		t.Fatal(err)
	}
	if err := in.Cancel(ctx, inspect.Ref{ID: "drop"}); !errors.Is(err, inspect.ErrMovedOn) {
		t.Errorf("second cancel: %v, want ErrMovedOn", err)
	}
	if err := in.Cancel(ctx, inspect.Ref{ID: "never-was"}); !errors.Is(err, inspect.ErrNotFound) {
		t.Errorf("cancel of an unknown ID: %v, want ErrNotFound", err)
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		if n := len(got.all()); n < 5 {
			return fmt.Errorf("%d of 5 ran", n)
		}
		return nil
	})
	// Done, and untracked: it left no record to tell it from an unknown ID.
	if err := in.Cancel(ctx, inspect.Ref{ID: "keep-0"}); !errors.Is(err, inspect.ErrNotFound) {
		t.Errorf("cancel after it fired and ran: %v, want ErrNotFound", err)
	}
	time.Sleep(time.Second)
	if n := got.count("drop"); n != 0 {
		t.Errorf("the cancelled task ran %d times", n)
	}
}

func TestDelayedTaskWithTheSameIDIsStoredOnce(t *testing.T) {
	t.Parallel()
	js, p, _ := setup(t)
	in := newInspector(t, js)
	def := tasks.Define[int]("invoice.send")
	ctx := context.Background()
	first, err := producer.Enqueue(ctx, p, def, 1, producer.WithID("inv-1"), producer.WithDelay(time.Hour))
	if err != nil || first.Duplicate {
		t.Fatalf("first: %+v, %v", first, err)
	}
	again, err := producer.Enqueue(ctx, p, def, 1, producer.WithID("inv-1"), producer.WithDelay(time.Hour))
	if err != nil || !again.Duplicate {
		t.Fatalf("again: %+v, %v; want Duplicate", again, err)
	}
	l, err := in.Tasks(ctx, inspect.Query{State: inspect.Scheduled})
	if err != nil || len(l.Tasks) != 1 || l.Tasks[0].ID != "inv-1" || l.Tasks[0].Seq != first.Sequence {
		t.Fatalf("scheduled: %+v, %v; want the first only", l.Tasks, err)
	}
}

func TestBadTimingIsRefusedAndNothingStored(t *testing.T) {
	t.Parallel()
	js, p, _ := setup(t)
	in := newInspector(t, js)
	def := tasks.Define[int]("bad.timing")
	ctx := context.Background()
	cases := map[string][]producer.EnqueueOption{
		"negative delay":       {producer.WithDelay(-time.Second)},
		"delay and run-at":     {producer.WithDelay(time.Second), producer.WithRunAt(time.Now().Add(time.Minute))},
		"zero run-at":          {producer.WithRunAt(time.Time{})},
		"deadline passed":      {producer.WithDeadline(time.Now().Add(-time.Second))},
		"deadline before due":  {producer.WithDelay(time.Hour), producer.WithDeadline(time.Now().Add(time.Minute))},
		"unique key too long":  {producer.WithUnique(string(make([]byte, 300)), time.Minute)},
		"unique key empty":     {producer.WithUnique("", time.Minute)},
		"unique TTL too short": {producer.WithUnique("k", time.Millisecond)},
	}
	for name, opts := range cases {
		if _, err := producer.Enqueue(ctx, p, def, 1, opts...); !errors.Is(err, producer.ErrInvalidOption) {
			t.Errorf("%s: got %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := producer.EnqueueBatch(ctx, p, def, []int{1}, producer.WithUnique("k", time.Minute)); !errors.Is(err, producer.ErrInvalidOption) {
		t.Errorf("unique in a batch: got %v, want ErrInvalidOption", err)
	}
	if l, err := in.Tasks(ctx, inspect.Query{State: inspect.Scheduled}); err != nil || len(l.Tasks) != 0 {
		t.Errorf("delayed stored: %d, err %v", len(l.Tasks), err)
	}
	// A run time that has passed is now, not an error.
	r, err := producer.Enqueue(ctx, p, def, 1, producer.WithRunAt(time.Now().Add(-time.Minute)))
	if err != nil || r.Stream != "JETQ_TASKS" {
		t.Errorf("run-at in the past: %+v, %v; want the task queued at once", r, err)
	}
}

func TestFiredTaskWaitsWhileTheQueueIsFull(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	topo := topology.Topology{MaxTasks: 1}
	p, err := producer.New(js, producer.WithTopology(topo), producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[int]("queue.full")
	ctx := context.Background()
	if _, err := producer.Enqueue(ctx, p, def, 1, producer.WithID("first")); err != nil {
		t.Fatal(err)
	}
	if _, err := producer.Enqueue(ctx, p, def, 2); !errors.Is(err, producer.ErrQueueFull) {
		t.Fatalf("immediate task on a full queue: %v, want ErrQueueFull", err)
	}
	if _, err := producer.Enqueue(ctx, p, def, 3, producer.WithID("later"), producer.WithDelay(500*time.Millisecond)); err != nil {
		t.Fatalf("delayed task on a full queue: %v (it waits in the schedule stream)", err)
	}
	time.Sleep(1500 * time.Millisecond) // fired, and waiting for room
	var got runs
	reg := recorder(def, &got)
	jetqtest.StartWorkerOn(t, js, reg, consumer.WithTopology(topo))
	testkit.WaitFor(t, 10*time.Second, func() error {
		if got.count("first") != 1 || got.count("later") != 1 {
			return fmt.Errorf("ran %v", got.all())
		}
		return nil
	})
}

func TestARetryAfterTheDeadlineExpiresTheTask(t *testing.T) {
	t.Parallel()
	js, p, _ := setup(t)
	def := tasks.Define[int]("retry.late", tasks.WithExpiry(2*time.Second), tasks.WithStateTracking())
	var got runs
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[int]) error {
		got.add(tk.ID)
		return tasks.RetryAfter(time.Minute, errors.New("upstream busy"))
	})
	jetqtest.StartWorkerOn(t, js, reg)
	ctx := context.Background()
	r, err := producer.Enqueue(ctx, p, def, 1)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	st, err := tr.WaitStatus(ctx, r.ID)
	if err != nil || st.State != status.Expired || st.Error == "" {
		t.Fatalf("status %+v, %v; want expired with the last error", st, err)
	}
	if n := got.count(r.ID); n != 1 {
		t.Errorf("ran %d times, want once", n)
	}
}
