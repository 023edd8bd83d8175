package consumer_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// snoozeRun is one run of a handler that snoozes.
type snoozeRun struct {
	id              string
	attempt         int
	header, snoozed string
}

func runOf(tk *tasks.Task[Args]) snoozeRun {
	return snoozeRun{id: tk.ID, attempt: tk.Attempt, header: tk.Header.Get("X-Kept"), snoozed: tk.Header.Get(tasks.HeaderSnoozed)}
}

func nextSnoozeRun(t *testing.T, runs <-chan snoozeRun, within time.Duration) snoozeRun {
	t.Helper()
	select {
	case r := <-runs:
		return r
	case <-time.After(within):
		t.Fatalf("no run within %v", within)
		return snoozeRun{}
	}
}

// scheduleEmpty waits until the schedule stream holds nothing.
func scheduleEmpty(t *testing.T, b *bundle) {
	t.Helper()
	jetqtest.WaitEmpty(t, b.js, "JETQ_SCHEDULES")
}

// TestSnoozeSpendsNoAttempt: a task of two attempts snoozed five times
// still runs, every run its first attempt, with its ID and headers.
func TestSnoozeSpendsNoAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("snooze.five", tasks.WithMaxAttempts(2))
	reg := tasks.NewRegistry()
	runs := make(chan snoozeRun, 10)
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[Args]) error {
		runs <- runOf(tk)
		if len(runs) <= 5 && tk.Header.Get(tasks.HeaderSnoozed) != "5" {
			return tasks.Snooze(50 * time.Millisecond)
		}
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	r, err := producer.Enqueue(ctx, b.p, def, Args{N: 1}, producer.WithHeader("X-Kept", "yes"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		got := nextSnoozeRun(t, runs, 30*time.Second)
		want := snoozeRun{id: r.ID, attempt: 1, header: "yes"}
		if i > 0 {
			want.snoozed = fmt.Sprint(i)
		}
		if got != want {
			t.Errorf("run %d: got %+v, want %+v", i+1, got, want)
		}
	}
	workEmpty(t, b.js)
	scheduleEmpty(t, b)
	if n := len(runs); n != 0 {
		t.Errorf("got %d runs after the sixth, want none", n)
	}
}

// TestSnoozedTaskIsScheduled: while it waits, a snoozed task is a delayed
// task with the time it runs again, its status says so, and it can be run
// now.
func TestSnoozedTaskIsScheduled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("snooze.listed", tasks.WithStateTracking())
	reg := tasks.NewRegistry()
	runs := make(chan snoozeRun, 10)
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[Args]) error {
		runs <- runOf(tk)
		if tk.Header.Get(tasks.HeaderSnoozed) == "" {
			return tasks.Snooze(time.Hour)
		}
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	in, err := inspect.New(b.js)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	r, err := producer.Enqueue(ctx, b.p, def, Args{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	nextSnoozeRun(t, runs, 30*time.Second)
	testkit.WaitFor(t, 30*time.Second, func() error {
		st, err := in.Status(ctx, r.ID)
		if err != nil {
			return err
		}
		if st.State != status.Scheduled || st.Attempt != 0 || st.RunAt.Before(before.Add(time.Hour)) {
			return fmt.Errorf("status: got %s, attempt %d, run at %v; want scheduled, attempt 0, run at an hour from %v", st.State, st.Attempt, st.RunAt, before)
		}
		return nil
	})
	page, err := in.Tasks(ctx, inspect.Query{State: inspect.Scheduled})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Tasks) != 1 || page.Tasks[0].ID != r.ID || page.Tasks[0].RunAt.Before(before.Add(time.Hour)) {
		t.Fatalf("scheduled tasks: got %+v, want %s due in an hour", page.Tasks, r.ID)
	}
	if err := in.RunNow(ctx, page.Tasks[0].Ref()); err != nil {
		t.Fatal(err)
	}
	if got, want := nextSnoozeRun(t, runs, 30*time.Second), (snoozeRun{id: r.ID, attempt: 1, snoozed: "1"}); got != want {
		t.Errorf("run after RunNow: got %+v, want %+v", got, want)
	}
	workEmpty(t, b.js)
	st, err := in.WaitStatus(ctx, r.ID)
	if err != nil || st.State != status.Done || st.Attempt != 1 {
		t.Errorf("final status: got %s, attempt %d (%v), want done, attempt 1", st.State, st.Attempt, err)
	}
}

// TestSnoozeOutOfRangeFailsTheAttempt: a snooze of 0 or beyond
// tasks.MaxSnooze is an error like any other: the attempt fails, and the
// last one files a record that says why.
func TestSnoozeOutOfRangeFailsTheAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("snooze.bad", tasks.WithMaxAttempts(2), tasks.WithBackoff(tasks.Backoff{Initial: time.Millisecond, Max: time.Millisecond}))
	reg := tasks.NewRegistry()
	runs := make(chan snoozeRun, 10)
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[Args]) error {
		runs <- runOf(tk)
		if tk.Attempt == 1 {
			return tasks.Snooze(0)
		}
		return tasks.Snooze(tasks.MaxSnooze + time.Second)
	})
	jetqtest.StartWorker(t, b.srv, reg)
	if _, err := producer.Enqueue(ctx, b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	recs := dlqRecords(t, b.js, 1)
	if got := recs[0].Header.Get("Jetq-Dlq-Reason"); got != string(tasks.ReasonMaxAttempts) {
		t.Errorf("reason: got %q, want %q", got, tasks.ReasonMaxAttempts)
	}
	if got := recs[0].Header.Get("Jetq-Dlq-Error"); !strings.Contains(got, "tasks.MaxSnooze") {
		t.Errorf("error: got %q, want it to name tasks.MaxSnooze", got)
	}
	for i := range 2 {
		if got := nextSnoozeRun(t, runs, time.Second); got.attempt != i+1 {
			t.Errorf("run %d: attempt %d, want %d", i+1, got.attempt, i+1)
		}
	}
	scheduleEmpty(t, b)
}

// stops holds, by task ID, what to do when a worker has stored a snoozed
// task's copy and not yet acknowledged its original; parallel tests each
// register their own.
var stops = struct {
	sync.Once
	sync.Map
}{}

func stopAfterSnooze(id string, f func()) {
	stops.Do(func() {
		consumer.SetAfterSnooze(func(id string) {
			if f, ok := stops.Load(id); ok {
				f.(func())()
			}
		})
	})
	stops.Store(id, f)
}

// snoozeAndDie enqueues task id of def to a worker whose handler snoozes
// it for d, and kills that worker once it has stored the task's copy and
// before it acknowledges the original, which comes again after its ack
// wait.
func snoozeAndDie(t *testing.T, b *bundle, def *tasks.Definition[Args], id string, d time.Duration) {
	t.Helper()
	first := tasks.NewRegistry()
	tasks.MustHandle(first, def, func(context.Context, *tasks.Task[Args]) error { return tasks.Snooze(d) })
	stopped, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	stopAfterSnooze(id, func() { once.Do(func() { close(stopped); <-release }) })
	dying := jetqtest.StartWorker(t, b.srv, first)
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}, producer.WithID(id)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the task was not snoozed")
	}
	dying.Kill() // the acknowledgement never reaches the server
	close(release)
}

// TestSnoozeWorkerDiesMidSnooze: a worker that dies between storing the
// copy of a snoozed task and acknowledging its original leaves two
// messages of the task, and exactly one runs: the original's redelivery
// when it comes first (its snooze outlasts the ack wait), or the copy.
func TestSnoozeWorkerDiesMidSnooze(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		snooze  time.Duration
		ackWait time.Duration
		fire    bool // run the copy now, after the redelivery ran
		attempt int  // of the one run after the death
		snoozed string
	}{
		{"redelivery first", time.Hour, time.Second, true, 2, ""},
		{"copy first", 100 * time.Millisecond, 5 * time.Second, false, 1, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			name := "snooze.dies." + strings.ReplaceAll(tc.name, " ", "-")
			def := tasks.Define[Args](name, tasks.WithAckWait(tc.ackWait))
			id := "dies-" + strings.ReplaceAll(tc.name, " ", "-")

			snoozeAndDie(t, b, def, id, tc.snooze)

			runs := make(chan snoozeRun, 10)
			second := tasks.NewRegistry()
			tasks.MustHandle(second, def, func(_ context.Context, tk *tasks.Task[Args]) error {
				runs <- runOf(tk)
				return nil
			})
			jetqtest.StartWorker(t, b.srv, second)
			got := nextSnoozeRun(t, runs, 30*time.Second)
			if want := (snoozeRun{id: id, attempt: tc.attempt, snoozed: tc.snoozed}); got != want {
				t.Errorf("run: got %+v, want %+v", got, want)
			}
			if tc.fire {
				in, err := inspect.New(b.js)
				if err != nil {
					t.Fatal(err)
				}
				if err := in.RunNow(ctx, inspect.Ref{ID: id}); err != nil {
					t.Fatal(err)
				}
			}
			// Both messages are settled once both streams are empty.
			scheduleEmpty(t, b)
			workEmpty(t, b.js)
			if n := len(runs); n != 0 {
				t.Errorf("got %d more runs, want the task to run once", n)
			}
		})
	}
}

// TestSnoozeCopyLostBeforeItsClaim: the worker dies between storing a
// snoozed task's copy and acknowledging the original, and the copy's first
// delivery is lost before it claims its run (a worker that dies as it takes
// it, here a pull that never acknowledges). Both messages come again after
// the ack wait, and still exactly one runs: the copy's redelivery claims the
// run it continues, as its first delivery would have, besides its own next
// run. It claimed only the latter, and the task ran twice.
func TestSnoozeCopyLostBeforeItsClaim(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("snooze.lost", tasks.WithAckWait(3*time.Second))
	const id = "lost-copy"

	snoozeAndDie(t, b, def, id, 100*time.Millisecond)

	// The copy fires after its snooze; its first delivery goes to a pull
	// that never acknowledges it nor claims its run.
	cons, err := b.js.Consumer(ctx, "JETQ_TASKS", "default:snooze:lost")
	if err != nil {
		t.Fatal(err)
	}
	m, err := cons.Next(jetstream.FetchMaxWait(10*time.Second), jetstream.FetchPriorityGroup("jetq"))
	if err != nil {
		t.Fatalf("the copy was not delivered: %v", err)
	}
	if m.Headers().Get("Jetq-Snooze-Of") == "" {
		t.Fatalf("delivered %v, want the snoozed task's copy (the original waits out its ack wait)", m.Headers())
	}

	runs := make(chan snoozeRun, 10)
	second := tasks.NewRegistry()
	tasks.MustHandle(second, def, func(_ context.Context, tk *tasks.Task[Args]) error {
		runs <- runOf(tk)
		return nil
	})
	jetqtest.StartWorker(t, b.srv, second)
	nextSnoozeRun(t, runs, 30*time.Second)
	// Both messages are settled once the work stream is empty.
	workEmpty(t, b.js)
	if n := len(runs); n != 0 {
		t.Errorf("the task ran %d times, want once", n+1)
	}
}

// TestSnoozedCallbackRuns: a callback that snoozes runs again. A callback
// claims its ID before it runs, so that one enqueued twice runs once; the
// snoozed copy continues the callback that claimed it and is not such a
// second enqueue.
func TestSnoozedCallbackRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	parent := tasks.Define[Args]("snooze.cb.parent")
	notify := tasks.Define[struct{}]("snooze.cb.notify")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, parent, func(context.Context, *tasks.Task[Args]) error { return nil })
	runs := make(chan string, 10)
	tasks.MustHandle(reg, notify, func(_ context.Context, tk *tasks.Task[struct{}]) error {
		runs <- tk.Header.Get(tasks.HeaderSnoozed)
		if tk.Header.Get(tasks.HeaderSnoozed) == "" {
			return tasks.Snooze(50 * time.Millisecond)
		}
		return nil
	})
	startAnnounced(t, b, reg)
	if _, err := producer.Enqueue(ctx, b.p, parent, Args{N: 1}, producer.OnSuccess(notify)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"", "1"} {
		select {
		case got := <-runs:
			if got != want {
				t.Errorf("callback run snoozed %q times, want %q", got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the callback did not run (snoozed %q times)", want)
		}
	}
	workEmpty(t, b.js)
	scheduleEmpty(t, b)
}

// TestSnoozePastTheDeadlineExpires: a snooze that would end after the
// task's deadline expires the task now: it would not run then.
func TestSnoozePastTheDeadlineExpires(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("snooze.late", tasks.WithStateTracking())
	reg := tasks.NewRegistry()
	runs := make(chan snoozeRun, 10)
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[Args]) error {
		runs <- runOf(tk)
		return tasks.Snooze(time.Hour)
	})
	jetqtest.StartWorker(t, b.srv, reg)
	r, err := producer.Enqueue(ctx, b.p, def, Args{N: 1}, producer.WithDeadline(time.Now().Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	nextSnoozeRun(t, runs, 30*time.Second)
	in, err := inspect.New(b.js)
	if err != nil {
		t.Fatal(err)
	}
	st, err := in.WaitStatus(ctx, r.ID)
	if err != nil || st.State != status.Expired {
		t.Errorf("status: got %s (%v), want expired", st.State, err)
	}
	workEmpty(t, b.js)
	if n := jetqtest.Msgs(t, b.js, "JETQ_SCHEDULES"); n != 0 {
		t.Errorf("schedule stream holds %d tasks, want none", n)
	}
}
