package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestOverviewWithoutHistory serves the overview of a deployment whose
// workers wrote no history: an empty chart with a note, not an error.
func TestOverviewWithoutHistory(t *testing.T) {
	t.Parallel()
	c := serve(t, embeddedtest.JetStream(t))
	code, body := c.get("/api/overview")
	if code != http.StatusOK {
		t.Fatalf("GET /api/overview: %d %s", code, body)
	}
	var o dashboard.Overview
	if err := json.Unmarshal([]byte(body), &o); err != nil {
		t.Fatal(err)
	}
	if o.History.Points == nil || len(o.History.Points) != 0 || o.HistoryNote == "" {
		t.Errorf("history %+v, note %q: want no points and a note", o.History, o.HistoryNote)
	}
}

// TestBrowserHistory opens the overview before any worker ran, where the
// chart says it has no history yet, then, after tasks ran, opens it in a
// fresh tab: the chart draws the server's points at once, and the table
// shows the task type's wait times.
func TestBrowserHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	d, err := dashboard.New(js, dashboard.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(d)
	t.Cleanup(server.Close)
	b := page{t, browser(t)}
	b.do("overview without history", chromedp.Navigate(server.URL+"/"),
		poll(`document.getElementById("chart").dataset.points === "0"`),
		poll(`document.getElementById("history-note").textContent.startsWith("No history yet")`))

	chart := tasks.Define[int]("chart.draw")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, chart, func(context.Context, *tasks.Task[int]) error { return nil })
	jetqtest.StartWorkerOn(t, js, reg, consumer.WithHistoryInterval(time.Second))
	p, err := producer.New(js)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	for i := range n {
		if _, err := producer.Enqueue(ctx, p, chart, i); err != nil {
			t.Fatal(err)
		}
	}
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, func() error {
		h, err := in.History(ctx, inspect.HistoryQuery{})
		if err != nil {
			return err
		}
		var got uint64
		for _, p := range h.Points {
			got += p.Succeeded
		}
		if got != n {
			return fmt.Errorf("the server's history counts %d succeeded, want %d", got, n)
		}
		return nil
	})

	fresh, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	b = page{t, fresh}
	b.do("a fresh overview", chromedp.Navigate(server.URL+"/"),
		poll(fmt.Sprintf(`document.getElementById("chart").dataset.succeeded === "%d"`, n)),
		poll(`document.getElementById("history-note").textContent === ""`),
		poll(`document.getElementById("rates").textContent.includes(" succeeded, ")`))
	row := `#queues tr[data-key="default/chart.draw"] td[data-f=%s]`
	for _, f := range []string{"wait_p50", "wait_p99"} {
		if v := b.text(fmt.Sprintf(row, f)); v == "-" || v == "" {
			t.Errorf("%s of chart.draw: %q, want a wait", f, v)
		}
	}
}
