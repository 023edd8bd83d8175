package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestBrowserPauseAndResume pauses a task type and then its whole queue
// from the overview in a real browser, and resumes them from the list of
// pauses: the tasks enqueued meanwhile wait, and run after the resume.
func TestBrowserPauseAndResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newTaskWorld(t)
	ship := tasks.Define[int]("order.ship")
	ran := make(chan int, 10)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, ship, func(_ context.Context, tk *tasks.Task[int]) error {
		ran <- tk.Payload
		return nil
	})
	p := jetqtest.NewProducer(t, w.js)
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	jetqtest.StartWorkerOn(t, w.js, reg)
	in, err := inspect.New(w.js)
	if err != nil {
		t.Fatal(err)
	}
	row := func() inspect.QueueStats {
		t.Helper()
		rows, err := in.Queues(ctx)
		if err != nil || len(rows) != 1 {
			t.Fatalf("Queues = %+v, %v", rows, err)
		}
		return rows[0]
	}
	testkit.WaitFor(t, 30*time.Second, func() error {
		if rows, err := in.Queues(ctx); err != nil || len(rows) != 1 || rows[0].Consumers != 1 {
			return context.DeadlineExceeded
		}
		return nil
	})

	// Signed out, the form's POST is refused and nothing is paused.
	c := client{t, w.base}
	if code, _ := c.post("/queues/pause", url.Values{"scope": {"default/order.ship"}}, nil); code != http.StatusForbidden {
		t.Errorf("pause without the token: %d, want 403", code)
	}
	if row().Paused {
		t.Fatal("paused by a refused request")
	}

	w.signIn("/")
	w.b.do("pause the type for an hour", visible("#pause-form"),
		chromedp.SetValue(chromedp.CSS("#pause-scope"), "default/order.ship"), chromedp.SetValue(chromedp.CSS("#pause-for"), "1h"),
		click("#pause"), waitURL("done=paused"), visible("#flash"))
	if got := w.b.text("#flash"); got != "Paused. Tasks stay queued; running handlers finish." {
		t.Errorf("flash %q", got)
	}
	if r := row(); !r.Paused || time.Until(r.PausedUntil) < 50*time.Minute {
		t.Fatalf("after pausing for an hour: paused %v until %v", r.Paused, r.PausedUntil)
	}
	w.b.do("pause the queue", chromedp.SetValue(chromedp.CSS("#pause-scope"), "default"),
		click("#pause"), waitURL("done=paused"), visible(`#pauses tr[data-scope="default"]`))
	for i := range 3 {
		if _, err := producer.Enqueue(ctx, p, ship, i); err != nil {
			t.Fatal(err)
		}
	}
	if r := row(); !r.Paused || !r.PausedUntil.IsZero() || r.Pending != 3 {
		t.Fatalf("after pausing the queue: %+v, want paused until resumed with 3 pending", r)
	}

	// Resuming the queue ends the type's pause too.
	w.b.do("resume the queue", click(`#pauses tr[data-scope="default"] .act-resume`), waitURL("done=resumed"), visible("#flash"),
		poll(`document.querySelector("#pauses tr[data-scope]") === null`))
	for range 3 {
		select {
		case <-ran:
		case <-time.After(30 * time.Second):
			t.Fatal("the tasks did not run after the resume")
		}
	}
	if r := row(); r.Paused {
		t.Errorf("after the resume: %+v", r)
	}
}
