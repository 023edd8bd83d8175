package dashboard_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// dlqCount counts the dead-letter records.
func dlqCount(ctx context.Context, js jetstream.JetStream) (int, error) {
	in, err := inspect.New(js)
	if err != nil {
		return 0, err
	}
	return in.CountDeadLetters(ctx, inspect.DeadLetterFilter{})
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
		if _, err := producer.Enqueue(ctx, p, def, "a secret payload", producer.WithHeader("Baggage", "user.email=ada@example.com")); err != nil {
			t.Fatal(err)
		}
	}
	stop := startWorker(t, js, reg)
	testkit.WaitFor(t, 20*time.Second, func() error {
		if c, err := dlqCount(ctx, js); err != nil || c != n {
			return errors.New("not dead-lettered yet")
		}
		return nil
	})
	stop()
}

// startWorker runs a worker of reg until stop is called, or the test ends.
func startWorker(t *testing.T, js jetstream.JetStream, reg *tasks.Registry) (stop func()) {
	t.Helper()
	w := jetqtest.StartWorkerOn(t, js, reg)
	return func() { _ = w.Stop(t) }
}

type client struct {
	t    *testing.T
	base string
}

// serve serves a dashboard of js with opts until the test ends.
func serve(t *testing.T, js jetstream.JetStream, opts ...dashboard.Option) client {
	t.Helper()
	d, err := dashboard.New(js, append([]dashboard.Option{dashboard.WithLogger(testkit.Logger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return client{t, srv.URL}
}

// post sends form to path with header h and returns the status and body.
func (c client) post(path string, form url.Values, h http.Header) (int, string) {
	c.t.Helper()
	code, body, _ := c.postFor(path, form, h)
	return code, body
}

// postFor is post returning the Location of a redirect too.
func (c client) postFor(path string, form url.Values, h http.Header) (code int, body, location string) {
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
	return resp.StatusCode, string(b), resp.Header.Get("Location")
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
	c := serve(t, js, dashboard.WithActions(token))
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

	// A bulk replay shows the count first, and acts only when confirmed;
	// its Cancel goes back to the same filter.
	form := url.Values{"task": {"default/secret.fail"}}
	if code, body := c.post("/dlq/replay", form, bearer); code != http.StatusOK || !strings.Contains(body, `<strong id="count">3</strong>`) ||
		!strings.Contains(body, `href="/dlq?queue=default&amp;task=secret.fail" id="cancel"`) {
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
	// The flash says only what the dashboard did.
	if _, body := c.get("/dlq?done=purged&n=3"); !strings.Contains(body, "3 records purged.") {
		t.Errorf("flash of a purge: %s", body)
	}
	if _, body := c.get("/dlq?done=Call+us+now&n=3"); strings.Contains(body, "Call us") || strings.Contains(body, `id="flash"`) {
		t.Errorf("a made-up flash is shown: %s", body)
	}
}

// TestDLQPaging follows the pages of a large stream, newest first, and a
// sparse filter past the read bound.
func TestDLQPaging(t *testing.T) {
	js := embeddedtest.JetStream(t)
	file(t, js, "timeout", 1)
	file(t, js, "max_attempts", 5100)
	c := serve(t, js)
	seen := map[string]bool{}
	path, pages := "/dlq?task=default/page.fail", 0
	for path != "" && pages < 3 {
		code, body := c.get(path)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		for _, m := range recordLink.FindAllStringSubmatch(body, -1) {
			if seen[m[1]] {
				t.Errorf("record %s on two pages", m[1])
			}
			seen[m[1]] = true
		}
		path = nextLink(body)
		pages++
	}
	if len(seen) != 150 || !seen["5101"] || !seen["4952"] || seen["4951"] {
		t.Errorf("three pages showed %d records", len(seen))
	}

	// The one timeout is the oldest record: each read stops at the bound
	// and offers to read on, the third finds it.
	code, body := c.get("/dlq?reason=timeout")
	if code != http.StatusOK || !strings.Contains(body, `id="partial"`) || recordLink.MatchString(body) {
		t.Fatalf("a sparse filter: %d %s", code, body)
	}
	for range 3 {
		if next := nextLink(body); next != "" {
			_, body = c.get(next)
		}
	}
	if m := recordLink.FindAllStringSubmatch(body, -1); len(m) != 1 || m[0][1] != "1" || strings.Contains(body, `id="next"`) {
		t.Errorf("reading on: %v %s", m, body)
	}
}

var (
	recordLink = regexp.MustCompile(`<td><a href="/dlq/(\d+)[?"]`)
	nextHref   = regexp.MustCompile(`<a href="([^"]*)" id="next">`)
)

// nextLink is the path of the page's next link, "" when it has none.
func nextLink(body string) string {
	m := nextHref.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// file files n dead-letter records of page.fail for reason, as a worker
// does.
func file(t *testing.T, js jetstream.JetStream, reason tasks.Reason, n int) {
	t.Helper()
	ctx := context.Background()
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	names := wire.Names{}
	now := time.Now()
	for i := range n {
		f := wire.Failure{Reason: reason, Error: "boom", Stream: "JETQ_TASKS", Seq: uint64(now.UnixNano()) + uint64(i),
			Subject: names.TaskSubject("default", "page.fail"), StoredAt: now, Deliveries: 1, At: now}
		h := nats.Header{wire.HeaderTask: {"page.fail"}, wire.HeaderQueue: {"default"}}
		if _, err := js.PublishMsgAsync(wire.DeadLetter(names, "default", "page.fail", h, []byte(`{}`), f, wire.Limits{})); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("records not stored")
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
	if code != http.StatusOK || !strings.Contains(list, `href="/jetq/dlq/1">`) || strings.Contains(list, "replay-all") {
		t.Errorf("dead letters under /jetq: %d %s", code, list)
	}
	for _, path := range []string{"/jetq/dlq/1", "/jetq/tasks?id=x", "/jetq/"} {
		if code, body := c.get(path); strings.Contains(body, "a secret payload") || code >= 500 {
			t.Errorf("%s: %d, shows the payload or fails: %s", path, code, body)
		}
	}
	if code, body := c.get("/jetq/dlq/1"); code != http.StatusOK || !strings.Contains(body, "Payloads are hidden") ||
		strings.Contains(body, "ada@example.com") || !strings.Contains(body, "1 header of the producer's hidden") {
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
		"prefix":      {dashboard.WithTopology(topology.Topology{Prefix: "Bad Prefix"})},
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
	c := serve(t, js)
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

// TestCreatesNothing opens every page on an empty server: no stream or
// bucket appears.
func TestCreatesNothing(t *testing.T) {
	js := embeddedtest.JetStream(t)
	c := serve(t, js)
	for _, path := range []string{"/", "/api/overview", "/dlq", "/dlq?reason=timeout", "/dlq/1", "/tasks?id=x", "/tasks/completed", "/workflow", "/workflow/x", "/workers", "/api/workers", "/scheduled", "/metrics"} {
		if code, body := c.get(path); code >= 500 {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	l := js.StreamNames(context.Background())
	for name := range l.Name() {
		t.Errorf("the dashboard created stream %s", name)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestActionReturnsToList replays a record opened from a filtered list:
// the redirect goes back to that list, and a made-up back to the whole list.
func TestActionReturnsToList(t *testing.T) {
	js := embeddedtest.JetStream(t)
	deadLetters(t, js, 2)
	c := serve(t, js, dashboard.WithActions(token))
	_, list := c.get("/dlq?task=default/secret.fail")
	if !strings.Contains(list, `href="/dlq/2?back=queue%3Ddefault%26task%3Dsecret.fail"`) {
		t.Fatalf("the list's record links do not carry it: %s", list)
	}
	bearer := http.Header{"Authorization": {"Bearer " + token}}
	for back, want := range map[string]string{
		"queue=default&task=secret.fail":      "/dlq?done=replayed&n=2&queue=default&task=secret.fail",
		"next=//evil.example&since=yesterday": "/dlq?done=replayed&n=1",
	} {
		seq := "2"
		if strings.Contains(back, "evil") {
			seq = "1"
		}
		code, _, got := c.postFor("/dlq/"+seq+"/replay", url.Values{"back": {back}}, bearer)
		if code != http.StatusSeeOther || got != want {
			t.Errorf("replay with back %q: %d, Location %q, want %q", back, code, got, want)
		}
	}
}

// TestTaskPageAfterAnAttempt shows tracked tasks whose handler reported
// progress: one waiting out an hour's backoff is waiting to retry in its
// status and in the work stream alike, its progress labelled as that of the
// attempt that ended; one done shows no progress ("99% — working" would
// mislead).
func TestTaskPageAfterAnAttempt(t *testing.T) {
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	c := serve(t, js)
	def := tasks.Define[string]("report.track", tasks.WithStateTracking(), tasks.WithMaxAttempts(3))
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[string]) error {
		if tk.Payload == "retry" {
			_ = tasks.ReportProgress(ctx, 40, "fetching")
			return tasks.RetryAfter(time.Hour, errors.New("upstream busy"))
		}
		_ = tasks.ReportProgress(ctx, 99, "working")
		return nil
	})
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"retry", "ok"} {
		if _, err := producer.Enqueue(ctx, p, def, id, producer.WithID(id)); err != nil {
			t.Fatal(err)
		}
	}
	startWorker(t, js, reg)

	var body string
	testkit.WaitFor(t, 10*time.Second, func() error {
		_, body = c.get("/tasks?id=retry")
		if !strings.Contains(body, `<dd id="state" class="state retrying">retrying</dd>`) {
			return errors.New("not retrying yet")
		}
		return nil
	})
	if !strings.Contains(body, `<dd id="work-state">waiting_to_retry</dd>`) {
		t.Errorf("a task retrying: the work stream disagrees with its status:\n%s", body)
	}
	if !strings.Contains(body, `<dt>Last progress</dt><dd id="progress">40% — fetching (attempt 1, when it ended)</dd>`) {
		t.Errorf("a task retrying: its last progress is not labelled as that of the attempt that ended:\n%s", body)
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		_, body = c.get("/tasks?id=ok")
		if !strings.Contains(body, `<dd id="state" class="state done">done</dd>`) {
			return errors.New("not done yet")
		}
		return nil
	})
	if strings.Contains(body, "99%") || strings.Contains(body, "working") {
		t.Errorf("a task done shows its handler's last progress:\n%s", body)
	}
}
