package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestBrowserLimits runs a worker with a type limited to 2 starts an hour
// and 4 tasks, and a type limited to one running task per key whose
// handlers block, with two tasks of key acme and one of "big co": the
// overview's Limits section shows, as served and as refreshed in a real
// browser, what the inspector reads from the server.
func TestBrowserLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newTaskWorld(t)
	rated := tasks.Define[int]("job.rated", tasks.WithRateLimit(2, time.Hour))
	placed := tasks.Define[int]("job.placed", tasks.WithQueue("tenants"), tasks.WithKeyConcurrency(1))
	jetqtest.HoldNextWindow(t, w.js, rated.Spec(), 2, nil) // a window that ends meanwhile leaves the same to read
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, rated, func(context.Context, *tasks.Task[int]) error { return nil })
	tasks.MustHandle(reg, placed, func(ctx context.Context, _ *tasks.Task[int]) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	jetqtest.StartWorkerOn(t, w.js, reg, consumer.WithConcurrency(4), consumer.WithPresenceInterval(200*time.Millisecond))
	t.Cleanup(func() { close(release) }) // before the worker stops
	p := jetqtest.NewProducer(t, w.js)
	for i := range 4 {
		if _, err := producer.Enqueue(ctx, p, rated, i); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{"acme", "acme", "big co"} {
		if _, err := producer.Enqueue(ctx, p, placed, 0, producer.WithKey(key)); err != nil {
			t.Fatal(err)
		}
	}
	in, err := inspect.New(w.js)
	if err != nil {
		t.Fatal(err)
	}
	var ls []inspect.Limits
	testkit.WaitFor(t, 30*time.Second, func() error {
		if ls, err = in.Limits(ctx); err != nil {
			return err
		}
		if len(ls) != 2 || ls[0].Rate == nil || ls[0].Rate.Used != 2 || ls[0].Rate.Waiting != 2 ||
			ls[1].KeyConcurrency == nil || ls[1].KeyConcurrency.Running != 2 {
			return fmt.Errorf("not settled: %+v", ls)
		}
		return nil
	})
	rate, places := ls[0].Rate, ls[1].KeyConcurrency
	want := map[string]string{
		`tr[data-key="default/job.rated/rate"] [data-f=limit]`:              "2/1h0m0s",
		`tr[data-key="default/job.rated/rate"] [data-f=used]`:               fmt.Sprintf("%d started", rate.Used),
		`tr[data-key="default/job.rated/rate"] [data-f=waiting]`:            fmt.Sprint(rate.Waiting),
		`tr[data-key="tenants/job.placed/key_concurrency"] [data-f=limit]`:  "1 running a key",
		`tr[data-key="tenants/job.placed/key_concurrency"] [data-f=used]`:   fmt.Sprintf("%d running", places.Running),
		`tr[data-key="tenants/job.placed/key_concurrency"] [data-f=keys]`:   fmt.Sprint(places.Keys),
		`tr[data-key="tenants/job.placed/key_concurrency"] [data-f=top]`:    `acme=1 "big co"=1`,
		`tr[data-key="tenants/job.placed/key_concurrency"] [data-f=window]`: "-",
	}

	// As served: the page's HTML.
	c := client{t, w.base}
	code, body := c.get("/")
	if code != 200 || !strings.Contains(body, `<td data-f="top">acme=1 &#34;big co&#34;=1</td>`) ||
		!strings.Contains(body, `<td data-f="used">2 started</td>`) || !strings.Contains(body, `<td data-f="limit">2/1h0m0s</td>`) {
		t.Errorf("overview as served: %d\n%s", code, body)
	}
	// And as /api/overview has it, for the page's refresh.
	code, body = c.get("/api/overview")
	var o dashboard.Overview
	if code != 200 || json.Unmarshal([]byte(body), &o) != nil || len(o.Limits) != 2 || o.Limits[1].KeyConcurrency == nil ||
		o.Limits[1].KeyConcurrency.Running != 2 {
		t.Errorf("/api/overview: %d\n%s", code, body)
	}

	// As refreshed in the browser: the same, a window that ends within the hour.
	w.b.do("open the overview", chromedp.Navigate(w.base+"/"), visible("#limit-table"))
	for sel, text := range want {
		w.b.do("read "+sel, pollText("#limit-table "+sel, text))
	}
	if got := w.b.text(`#limit-table tr[data-key="default/job.rated/rate"] [data-f=window]`); !strings.HasPrefix(got, "ends in ") {
		t.Errorf("window cell %q, want ends in …", got)
	}
	if n, _ := chromedp.Run(w.b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#limit-table tbody tr").length`)); n != 2 {
		t.Errorf("limit rows: %d, want 2", n)
	}
	// A third key starts running: the open page follows without a reload.
	if _, err := producer.Enqueue(ctx, p, placed, 0, producer.WithKey("cog")); err != nil {
		t.Fatal(err)
	}
	w.b.do("see the third key", pollText(`#limit-table tr[data-key="tenants/job.placed/key_concurrency"] [data-f=used]`, "3 running"),
		pollText(`#limit-table tr[data-key="tenants/job.placed/key_concurrency"] [data-f=top]`, `acme=1 "big co"=1 cog=1`))
	// The rows are the refresh's now, written by the page's script.
	for sel, text := range want {
		if !strings.Contains(sel, "key_concurrency") {
			if got := w.b.text("#limit-table " + sel); got != text {
				t.Errorf("%s after a refresh: %q, want %q", sel, got, text)
			}
		}
	}
	if l, err := in.Limit(ctx, "tenants", "job.placed"); err != nil || l.KeyConcurrency.Running != 3 || l.KeyConcurrency.Keys != 3 {
		t.Errorf("Limit after the third key: %+v, %v", l, err)
	}
}
