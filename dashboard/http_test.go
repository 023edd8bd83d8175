package dashboard_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// dlqCount counts the dead-letter records.
func dlqCount(ctx context.Context, js jetstream.JetStream) (int, error) {
	in, err := dlq.NewInspector(js)
	if err != nil {
		return 0, err
	}
	return in.Count(ctx, dlq.Filter{})
}

// deadLetters files n records of secret.fail, whose payload is secret.
func deadLetters(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	ctx := context.Background()
	def := tasks.Define[string]("secret.fail")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[string]) error { return tasks.Permanent(errors.New("no")) })
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := producer.Enqueue(ctx, p, def, "a secret payload"); err != nil {
			t.Fatal(err)
		}
	}
	w, err := consumer.New(js, reg, consumer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	testkit.WaitFor(t, 20*time.Second, func() error {
		if c, err := dlqCount(ctx, js); err != nil || c != n {
			return errors.New("not dead-lettered yet")
		}
		return nil
	})
	stop()
	<-done
}

type client struct {
	t    *testing.T
	base string
}

// post sends form to path with header h and returns the status and body.
func (c client) post(path string, form url.Values, h http.Header) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	if h != nil {
		req.Header = h.Clone()
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c client) get(path string) (int, string) {
	c.t.Helper()
	resp, err := http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestActionsNeedTokenAndSameOrigin checks the actions' guards over
// plain HTTP: no token, a wrong one, a cross-site request with the right
// one, then a bulk replay that confirms first.
func TestActionsNeedTokenAndSameOrigin(t *testing.T) {
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	deadLetters(t, js, 3)
	d, err := dashboard.New(js, dashboard.WithActions(token), dashboard.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	c := client{t, srv.URL}
	bearer := http.Header{"Authorization": {"Bearer " + token}}

	if code, body := c.post("/dlq/1/delete", nil, nil); code != http.StatusForbidden || !strings.Contains(body, "needs the dashboard&#39;s token") {
		t.Errorf("delete without a token: %d %s", code, body)
	}
	if code, _ := c.post("/dlq/1/delete", nil, http.Header{"Authorization": {"Bearer wrong-token-of-some-length"}}); code != http.StatusForbidden {
		t.Errorf("delete with a wrong token: %d", code)
	}
	crossSite := bearer.Clone()
	crossSite.Set("Sec-Fetch-Site", "cross-site")
	crossSite.Set("Origin", "https://evil.example")
	if code, _ := c.post("/dlq/1/delete", nil, crossSite); code != http.StatusForbidden {
		t.Errorf("a cross-site delete with the token: %d", code)
	}
	if code, _ := c.post("/login", url.Values{"token": {"nope"}}, nil); code != http.StatusForbidden {
		t.Errorf("sign-in with a wrong token: %d", code)
	}
	if n, err := dlqCount(ctx, js); err != nil || n != 3 {
		t.Fatalf("records after refused actions: %d %v", n, err)
	}

	// A bulk replay shows the count first, and acts only when confirmed.
	form := url.Values{"task": {"default/secret.fail"}}
	if code, body := c.post("/dlq/replay", form, bearer); code != http.StatusOK || !strings.Contains(body, `<strong id="count">3</strong>`) {
		t.Errorf("bulk replay's confirmation: %d %s", code, body)
	}
	if n, _ := dlqCount(ctx, js); n != 3 {
		t.Errorf("the confirmation page replayed: %d records left", n)
	}
	form.Set("confirm", "yes")
	if code, _ := c.post("/dlq/purge", form, bearer); code != http.StatusSeeOther {
		t.Errorf("bulk purge: %d", code)
	}
	if n, err := dlqCount(ctx, js); err != nil || n != 0 {
		t.Errorf("records after the purge: %d %v", n, err)
	}
}

// TestReadOnlyAndHiddenPayloads checks a dashboard without actions and
// with payloads hidden.
func TestReadOnlyAndHiddenPayloads(t *testing.T) {
	js := embeddedtest.JetStream(t)
	deadLetters(t, js, 1)
	d, err := dashboard.New(js, dashboard.WithHidePayloads(), dashboard.WithBasePath("/jetq"), dashboard.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/jetq/", d)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := client{t, srv.URL}
	if code, body := c.post("/jetq/dlq/1/replay", nil, http.Header{"Authorization": {"Bearer " + token}}); code != http.StatusForbidden ||
		!strings.Contains(body, "actions are disabled") {
		t.Errorf("replay on a read-only dashboard: %d %s", code, body)
	}
	code, list := c.get("/jetq/dlq")
	if code != http.StatusOK || !strings.Contains(list, `href="/jetq/dlq/1"`) || strings.Contains(list, "replay-all") {
		t.Errorf("dead letters under /jetq: %d %s", code, list)
	}
	for _, path := range []string{"/jetq/dlq/1", "/jetq/tasks?id=x", "/jetq/"} {
		if code, body := c.get(path); strings.Contains(body, "a secret payload") || code >= 500 {
			t.Errorf("%s: %d, shows the payload or fails: %s", path, code, body)
		}
	}
	if code, body := c.get("/jetq/dlq/1"); code != http.StatusOK || !strings.Contains(body, "Payloads are hidden") {
		t.Errorf("record page: %d %s", code, body)
	}
	if code, body := c.get("/jetq/metrics"); code != http.StatusOK ||
		!strings.Contains(body, `jetq_dlq_tasks{queue="default",task="secret.fail"} 1`) {
		t.Errorf("/metrics: %d %s", code, body)
	}
	if code, body := c.get("/jetq/dlq?since=yesterday"); code != http.StatusBadRequest || !strings.Contains(body, "since must be a time") {
		t.Errorf("a bad filter: %d %s", code, body)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	js := embeddedtest.JetStream(t)
	for name, opts := range map[string][]dashboard.Option{
		"short token": {dashboard.WithActions("short")},
		"base path":   {dashboard.WithBasePath("jetq")},
		"prefix":      {dashboard.WithPrefix("Bad Prefix")},
		"timeout":     {dashboard.WithTimeout(-time.Second)},
	} {
		if _, err := dashboard.New(js, opts...); !errors.Is(err, dashboard.ErrInvalidOption) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := dashboard.New(nil); !errors.Is(err, dashboard.ErrInvalidOption) {
		t.Errorf("nil js: %v", err)
	}
}

// TestTaskInWorkStream finds an untracked task that waits for a worker.
func TestTaskInWorkStream(t *testing.T) {
	js := embeddedtest.JetStream(t)
	d, err := dashboard.New(js, dashboard.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	c := client{t, srv.URL}
	def := tasks.Define[map[string]int]("report.render")
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := producer.Enqueue(context.Background(), p, def, map[string]int{"quarter": 3}, producer.WithID("report:q3")); err != nil {
		t.Fatal(err)
	}
	code, body := c.get("/tasks?id=report:q3")
	if code != http.StatusOK || !strings.Contains(body, `<dd id="work-state">queued</dd>`) || !strings.Contains(body, "\n  &#34;quarter&#34;: 3\n") {
		t.Errorf("a queued task: %d %s", code, body)
	}
	if code, body := c.get("/tasks?id=report:q4"); code != http.StatusNotFound || !strings.Contains(body, "No task report:q4 found") {
		t.Errorf("an unknown task: %d %s", code, body)
	}
}
