package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// taskWorld is a deployment with a dashboard that allows actions, and a
// browser tab on it.
type taskWorld struct {
	t    *testing.T
	js   jetstream.JetStream
	base string
	b    page
}

func newTaskWorld(t *testing.T) *taskWorld {
	t.Helper()
	js := embeddedtest.JetStream(t)
	c := serve(t, js, dashboard.WithActions(token))
	return &taskWorld{t: t, js: js, base: c.base, b: page{t, browser(t)}}
}

// in is w for the subtest t: its failures are t's.
func (w *taskWorld) in(t *testing.T) *taskWorld {
	c := *w
	c.t, c.b.t = t, t
	return &c
}

// signIn signs the tab in and goes on to next.
func (w *taskWorld) signIn(next string) {
	w.t.Helper()
	w.b.do("sign in", chromedp.Navigate(w.base+"/login?next="+url.QueryEscape(next)),
		chromedp.SendKeys(chromedp.CSS("#token"), token), click("#sign-in"), visible("#logout"))
}

// rows waits until the list shows n tasks.
func rows(n int) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`document.querySelectorAll("#tasks tbody tr[data-id]").length === %d`, n))
}

// row is the selector of task id's row, or of sel within it.
func row(id, sel string) string {
	return strings.TrimSpace(fmt.Sprintf(`#tasks tr[data-id=%q] %s`, id, sel))
}

// list navigates to a list and waits until it shows n tasks.
func (w *taskWorld) list(path string, n int) {
	w.t.Helper()
	w.b.do("list "+path, chromedp.Navigate(w.base+path), poll(`document.querySelector("#tasks, #error-text") !== null`))
	if ok, _ := chromedp.Run(w.b.ctx, chromedp.Evaluate[bool](`document.querySelector("#error-text") !== null`)); ok {
		w.t.Fatalf("list %s: %s", path, w.b.text("#error-text"))
	}
	w.b.do("list "+path, rows(n))
}

// act lists path, waits until it shows n tasks, takes action on task
// id from its row, and checks the flash of the page it leads to.
func (w *taskWorld) act(path string, n int, id, action, flash string) {
	w.t.Helper()
	w.list(path, n)
	w.b.do(action+" "+id, click(row(id, ".act-"+action)))
	w.flash(flash)
}

// flash waits for the page an action leads to and checks its message.
func (w *taskWorld) flash(want string) {
	w.t.Helper()
	w.b.do("after the action", waitURL("done=task-"), visible("#flash"))
	if got := w.b.text("#flash"); got != want {
		w.t.Errorf("flash %q, want %q", got, want)
	}
}

// errorPage waits for an error page and checks that it says want.
func (w *taskWorld) errorPage(what string, steps []chromedp.Action[chromedp.Void], want string) {
	w.t.Helper()
	w.b.do(what, append(steps, visible("#error-text"))...)
	if got := w.b.text("#error-text"); !strings.Contains(got, want) {
		w.t.Errorf("%s: the page says %q, want %q", what, got, want)
	}
}

// customers counts the tasks in the stream name by subject and customer,
// "jetq.task.default.order.ship 7", reading every message.
func customers(t *testing.T, js jetstream.JetStream, name string) map[string]int {
	t.Helper()
	ctx := context.Background()
	got := map[string]int{}
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return got
	}
	if err != nil {
		t.Fatal(err)
	}
	st := s.CachedInfo().State
	for seq := st.FirstSeq; st.Msgs > 0 && seq <= st.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var o order
		_ = json.Unmarshal(m.Data, &o)
		got[fmt.Sprintf("%s %d", m.Subject, o.Customer.ID)]++
	}
	return got
}

// TestBrowserTaskLists shows each list in a browser: 60 pending tasks
// paged and filtered by payload, a running, a retrying, a completed and a
// failed task, and two scheduled; and bad input in the address bar and the
// filter's form answered with a message that says what is wrong.
func TestBrowserTaskLists(t *testing.T) {
	t.Parallel()
	w := newTaskWorld(t)
	ctx := context.Background()
	enqueueOrders(t, w.js, 55, 7)
	eights := enqueueOrders(t, w.js, 5, 8)
	scheduled := enqueueOrders(t, w.js, 2, 9, producer.WithDelay(time.Hour))

	slow := tasks.Define[int]("job.slow")
	flaky := tasks.Define[int]("job.flaky", tasks.WithStateTracking())
	tracked := tasks.Define[int]("job.tracked", tasks.WithStateTracking())
	broken := tasks.Define[int]("job.broken", tasks.WithMaxAttempts(1))
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, slow, func(ctx context.Context, _ *tasks.Task[int]) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	tasks.MustHandle(reg, flaky, func(context.Context, *tasks.Task[int]) error {
		return tasks.RetryAfter(time.Hour, errors.New("gateway timeout"))
	})
	tasks.MustHandle(reg, tracked, func(context.Context, *tasks.Task[int]) error { return nil })
	tasks.MustHandle(reg, broken, func(context.Context, *tasks.Task[int]) error {
		return tasks.Permanent(errors.New("card declined"))
	})
	p := newProducer(t, w.js)
	ids := map[string]string{}
	for name, def := range map[string]*tasks.Definition[int]{"running": slow, "retrying": flaky, "completed": tracked, "failed": broken} {
		r, err := producer.Enqueue(ctx, p, def, 1)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = r.ID
	}
	startWorker(t, w.js, reg)
	t.Cleanup(func() { close(release) }) // before the worker stops

	shots := os.Getenv(screenshotsEnv)
	if shots == "" {
		shots = t.TempDir()
	}
	t.Run("pending", func(t *testing.T) {
		w := w.in(t)
		w.list("/tasks/pending", 50)
		w.b.do("the next page", click("#next"), waitURL("page="), rows(10), visible("#first"))
		w.b.do("filter by payload", chromedp.Navigate(w.base+"/tasks/pending"), visible("#f-where"),
			chromedp.SetValue(chromedp.CSS("#f-where"), "customer.id=8"), click("#apply"), waitURL("where="), rows(5), shot(shots, "tasks"))
		for _, id := range eights {
			w.b.do("a task of customer 8", visible(row(id, "")))
		}
		if got := w.b.text(row(eights[0], "td:first-child")); got != "56" {
			t.Errorf("the first task of customer 8 is at position %s, want 56", got)
		}
	})
	// Each other list shows its tasks, and the error of a failed attempt.
	for _, tc := range []struct {
		state string
		ids   []string
		err   string
	}{
		{"running", []string{ids["running"]}, ""},
		{"retrying", []string{ids["retrying"]}, "gateway timeout"},
		{"scheduled", scheduled, ""},
		{"completed", []string{ids["completed"]}, ""},
		{"failed", []string{ids["failed"]}, "card declined"},
	} {
		t.Run(tc.state, func(t *testing.T) {
			w := w.in(t)
			w.list("/tasks/"+tc.state, len(tc.ids))
			for _, id := range tc.ids {
				w.b.do("task "+id, visible(row(id, "")))
			}
			if tc.err == "" {
				return
			}
			if got := w.b.text(row(tc.ids[0], "td.error")); !strings.Contains(got, tc.err) {
				t.Errorf("the error shown: %q, want %q", got, tc.err)
			}
		})
	}
	t.Run("bad input", func(t *testing.T) {
		w := w.in(t)
		work, sched := streamMsgs(t, w.js)
		w.errorPage("an unknown list", []chromedp.Action[chromedp.Void]{chromedp.Navigate(w.base + "/tasks/waiting")},
			`no task list "waiting": inspect: invalid query: unknown state "waiting": use one of pending, running, retrying, scheduled, completed, failed`)
		w.errorPage("a malformed payload filter", []chromedp.Action[chromedp.Void]{chromedp.Navigate(w.base + "/tasks/pending"),
			visible("#f-where"), chromedp.SetValue(chromedp.CSS("#f-where"), "customer.id"), click("#apply")},
			`the payload filter "customer.id": inspect: invalid query: match "customer.id" has no '='`)
		// The next page's token of the pending list, given to the
		// scheduled list and to the pending list with another filter.
		w.list("/tasks/pending", 50)
		next, err := chromedp.Run(w.b.ctx, chromedp.AttributeValue(chromedp.CSS("#next"), "href"))
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(next.Value)
		if err != nil {
			t.Fatal(err)
		}
		tok := url.QueryEscape(u.Query().Get("page"))
		for _, path := range []string{"/tasks/scheduled?page=" + tok, "/tasks/pending?where=customer.id%3D8&page=" + tok} {
			w.errorPage("a token from another list", []chromedp.Action[chromedp.Void]{chromedp.Navigate(w.base + path)}, "invalid query")
		}
		if w2, s2 := streamMsgs(t, w.js); w2 != work || s2 != sched {
			t.Errorf("bad input changed the streams: work %d→%d, schedules %d→%d", work, w2, sched, s2)
		}
	})
}

// TestBrowserTaskActions takes every action in a browser, one task at a
// time and in bulk over a filter: refused signed out, then signed in
// delete a pending task from its list and another from its page, run one scheduled task now and cancel another,
// retry a retrying task now, remove a periodic declaration, and the bulk
// run, cancel and retry, each after a confirmation that counts them.
func TestBrowserTaskActions(t *testing.T) {
	t.Parallel()
	w := newTaskWorld(t)
	ctx := context.Background()
	pending := enqueueOrders(t, w.js, 3, 1)
	single := enqueueOrders(t, w.js, 2, 2, producer.WithDelay(time.Hour))
	enqueueOrders(t, w.js, 3, 3, producer.WithDelay(time.Hour))
	enqueueOrders(t, w.js, 4, 4, producer.WithDelay(time.Hour))

	// flaky fails its first attempt, to be retried in an hour, and then
	// succeeds.
	flaky := tasks.Define[int]("job.flaky", tasks.WithStateTracking())
	ran := make(chan string, 8)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, flaky, func(_ context.Context, tk *tasks.Task[int]) error {
		if tk.Attempt == 1 {
			return tasks.RetryAfter(time.Hour, errors.New("gateway timeout"))
		}
		ran <- tk.ID
		return nil
	})
	p := newProducer(t, w.js)
	var retrying []string
	for i := range 3 {
		r, err := producer.Enqueue(ctx, p, flaky, i)
		if err != nil {
			t.Fatal(err)
		}
		retrying = append(retrying, r.ID)
	}
	startWorker(t, w.js, reg)
	// The lists below are read once a page: wait until the worker has taken
	// the flaky tasks and they wait to retry, so that they are no longer
	// pending when the pending list is read.
	in, err := inspect.New(w.js)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, func() error {
		p, err := in.Tasks(ctx, inspect.Query{State: inspect.Retrying, Task: flaky.Name()})
		if err != nil || len(p.Tasks) != len(retrying) {
			return fmt.Errorf("retrying: %d of %d, %v", len(p.Tasks), len(retrying), err)
		}
		return nil
	})
	s, err := schedule.New(w.js)
	if err != nil {
		t.Fatal(err)
	}
	if err := schedule.Declare(ctx, s, orderShip, schedule.Periodic{Name: "reports.yearly", Schedule: "@yearly"}, order{}); err != nil {
		t.Fatal(err)
	}
	names := wire.Names{}
	ship := names.TaskSubject("default", "order.ship")

	// Signed out, the buttons are there and refused.
	work, sched := streamMsgs(t, w.js)
	asked := w.b.acceptDialogs()
	w.list("/tasks/pending", 3)
	w.errorPage("a delete signed out", []chromedp.Action[chromedp.Void]{click(row(pending[0], ".act-delete"))}, "needs the dashboard's token")
	w.list("/tasks/pending", 3)
	w.errorPage("a bulk delete signed out", []chromedp.Action[chromedp.Void]{click("#bulk-delete")}, "needs the dashboard's token")
	if q := dialog(asked); q != "Delete task "+pending[0]+"?" {
		t.Errorf("the delete asked %q", q)
	}
	if w2, s2 := streamMsgs(t, w.js); w2 != work || s2 != sched {
		t.Errorf("refused actions changed the streams: work %d→%d, schedules %d→%d", work, w2, sched, s2)
	}

	w.signIn("/tasks/pending")
	t.Run("delete", func(t *testing.T) {
		w := w.in(t)
		w.act("/tasks/pending", 3, pending[0], "delete", "1 task deleted.")
		w.b.do("the list without it", rows(2))
		if q := dialog(asked); q != "Delete task "+pending[0]+"?" {
			t.Errorf("the delete asked %q", q)
		}
		if got := customers(t, w.js, names.WorkStream())[ship+" 1"]; got != 2 {
			t.Errorf("%d pending tasks of customer 1 left, want 2", got)
		}
	})
	t.Run("delete from the task page", func(t *testing.T) {
		w := w.in(t)
		w.b.do("the task page", chromedp.Navigate(w.base+"/tasks?id="+pending[1]), visible("#task-delete"), click("#task-delete"))
		w.flash("1 task deleted.")
		w.b.do("the pending list without it", rows(1))
		if q := dialog(asked); q != "Delete task "+pending[1]+"?" {
			t.Errorf("the delete asked %q", q)
		}
	})
	t.Run("run now", func(t *testing.T) {
		w := w.in(t)
		w.act("/tasks/scheduled?where=customer.id%3D2", 2, single[0], "run", "1 task run now.")
		w.list("/tasks/pending?where=customer.id%3D2", 1)
		w.b.do("the task run now is pending", visible(row(single[0], "")))
	})
	t.Run("cancel", func(t *testing.T) {
		w := w.in(t)
		w.act("/tasks/scheduled?where=customer.id%3D2", 1, single[1], "cancel", "1 task cancelled.")
		w.b.do("the list without it", rows(0))
		if q := dialog(asked); q != "Cancel task "+single[1]+"?" {
			t.Errorf("the cancel asked %q", q)
		}
	})
	t.Run("retry now", func(t *testing.T) {
		w := w.in(t)
		w.act("/tasks/retrying", 3, retrying[0], "retry", "1 task retried now.")
		if id := <-ran; id != retrying[0] {
			t.Errorf("ran %s, want the task retried now, %s", id, retrying[0])
		}
	})
	t.Run("bulk run", func(t *testing.T) {
		w := w.in(t)
		w.list("/tasks/scheduled?where=customer.id%3D3", 3)
		w.confirmBulk("#bulk-run", 3)
		w.flash("3 tasks run now.")
		w.list("/tasks/pending?where=customer.id%3D3", 3)
	})
	t.Run("bulk cancel", func(t *testing.T) {
		w := w.in(t)
		w.list("/tasks/scheduled?where=customer.id%3D4", 4)
		w.confirmBulk("#bulk-cancel", 4)
		w.flash("4 tasks cancelled.")
		w.b.do("the list without them", rows(0))
	})
	t.Run("bulk retry", func(t *testing.T) {
		w := w.in(t)
		w.list("/tasks/retrying", 2)
		w.confirmBulk("#bulk-retry", 2)
		w.flash("2 tasks retried now.")
		got := map[string]bool{<-ran: true, <-ran: true}
		if !got[retrying[1]] || !got[retrying[2]] {
			t.Errorf("ran %v, want %v", got, retrying[1:])
		}
	})
	t.Run("remove a periodic task", func(t *testing.T) {
		w := w.in(t)
		sel := `#periodic tr[data-name="reports.yearly"]`
		w.b.do("remove", chromedp.Navigate(w.base+"/scheduled"), click(sel+" .act-remove"), waitURL("done=periodic-removed"), visible("#flash"))
		if got := w.b.text("#flash"); got != "Periodic task removed." {
			t.Errorf("flash %q", got)
		}
		w.b.do("the page without it", poll(fmt.Sprintf(`document.querySelector(%q) === null`, sel)))
		in, err := inspect.New(w.js)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.PeriodicTask(ctx, "reports.yearly"); !errors.Is(err, inspect.ErrNotFound) {
			t.Errorf("the periodic task after its removal: %v", err)
		}
	})
}

// dialog is the message of the dialog the page opened last, "" for none.
func dialog(asked <-chan string) string {
	select {
	case q := <-asked:
		return q
	default:
		return ""
	}
}

// confirmBulk clicks the bulk button sel, checks that the confirmation
// counts n tasks, and confirms.
func (w *taskWorld) confirmBulk(sel string, n int) {
	w.t.Helper()
	w.b.do("plan "+sel, click(sel), visible("#confirm"))
	if got := w.b.text("#count"); got != fmt.Sprint(n) {
		w.t.Errorf("the confirmation counts %s tasks, want %d", got, n)
	}
	w.b.do("confirm "+sel, click("#confirm"))
}

// TestBrowserBulkDelete deletes the 1 000 pending tasks of one customer
// by a filter on the payload, among tasks of other customers, of another
// type and scheduled: the confirmation counts 1 000, 1 000 are deleted,
// and every other task is still there.
func TestBrowserBulkDelete(t *testing.T) {
	t.Parallel()
	w := newTaskWorld(t)
	bill := tasks.Define[order]("order.bill")
	enqueueOrders(t, w.js, 1000, 7)
	enqueueOrders(t, w.js, 300, 8)
	enqueueOrders(t, w.js, 20, 7, producer.WithDelay(time.Hour))
	p := newProducer(t, w.js)
	var o order
	o.Customer.ID = 7
	if _, err := producer.EnqueueBatch(context.Background(), p, bill, make([]order, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := producer.EnqueueBatch(context.Background(), p, bill, []order{o, o, o}); err != nil {
		t.Fatal(err)
	}
	names := wire.Names{}
	before := customers(t, w.js, names.WorkStream())
	scheduledBefore := customers(t, w.js, names.ScheduleStream())

	w.signIn("/tasks/pending")
	w.b.do("filter", chromedp.SetValue(chromedp.CSS("#f-task"), "order.ship"), chromedp.SetValue(chromedp.CSS("#f-where"), "customer.id=7"),
		click("#apply"), waitURL("where="), rows(50))
	w.confirmBulk("#bulk-delete", 1000)
	w.flash("1000 tasks deleted.")

	after := customers(t, w.js, names.WorkStream())
	ship, billed := names.TaskSubject("default", "order.ship"), names.TaskSubject("default", "order.bill")
	want := map[string]int{ship + " 8": 300, billed + " 0": 100, billed + " 7": 3}
	if before[ship+" 7"] != 1000 || fmt.Sprint(after) != fmt.Sprint(want) {
		t.Errorf("the work stream held %v before, %v after; want %v after", before, after, want)
	}
	if got := customers(t, w.js, names.ScheduleStream()); fmt.Sprint(got) != fmt.Sprint(scheduledBefore) {
		t.Errorf("the schedule stream held %v before, %v after", scheduledBefore, got)
	}
}

// TestBrowserCancelRunningTask cancels a running task from its page: the
// handler's ctx ends with cause tasks.ErrCancelled, and the task reads
// status cancelled. Signed out, the button is refused and the handler
// runs on.
func TestBrowserCancelRunningTask(t *testing.T) {
	t.Parallel()
	w := newTaskWorld(t)
	ctx := context.Background()
	long := tasks.Define[int]("job.long", tasks.WithStateTracking())
	started, causes := make(chan string, 1), make(chan error, 1)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, long, func(ctx context.Context, tk *tasks.Task[int]) error {
		started <- tk.ID
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	})
	startWorker(t, w.js, reg)
	r, err := producer.Enqueue(ctx, newProducer(t, w.js), long, 1)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	in, err := inspect.New(w.js)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, func() error {
		if st, err := in.Status(ctx, r.ID); err != nil || st.State != status.Running {
			return fmt.Errorf("status %+v, %v; want running", st, err)
		}
		return nil
	})
	asked := w.b.acceptDialogs()
	page := chromedp.Navigate(w.base + "/tasks?id=" + r.ID)
	w.errorPage("a cancel signed out", []chromedp.Action[chromedp.Void]{page, visible("#task-cancel"), click("#task-cancel")},
		"needs the dashboard's token")
	if st, err := in.Status(ctx, r.ID); err != nil || st.State != status.Running {
		t.Errorf("after the refused cancel: status %+v, %v; want running", st, err)
	}

	w.signIn("/tasks?id=" + r.ID)
	w.b.do("cancel from the task page", visible("#task-cancel"), click("#task-cancel"))
	w.flash("1 task cancelled.")
	if q := dialog(asked); q != "Cancel task "+r.ID+"?" {
		t.Errorf("the cancel asked %q", q)
	}
	if cause := <-causes; !errors.Is(cause, tasks.ErrCancelled) {
		t.Errorf("cause of the handler's ctx: %v, want tasks.ErrCancelled", cause)
	}
	st, err := in.WaitStatus(ctx, r.ID)
	if err != nil || st.State != status.Cancelled {
		t.Errorf("status after the cancel: %+v, %v; want cancelled", st, err)
	}
}
