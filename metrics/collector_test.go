package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/metrics"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// TestQueueGauges builds a known workload — tasks no worker serves, tasks
// dead-lettered, one running after a failed attempt, one waiting out an
// hour's backoff on a paused consumer, delayed tasks — and checks every
// gauge of a scrape over HTTP against it.
func TestQueueGauges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)

	unserved := tasks.Define[int]("report.render")
	dead := tasks.Define[int]("mail.send")
	blocking := tasks.Define[int]("job.block", fast)
	retrying := tasks.Define[int]("job.retry", tasks.WithMaxAttempts(3))
	later := tasks.Define[int]("job.later")

	release := make(chan struct{})
	blocked, retried := make(chan struct{}, 1), make(chan struct{}, 1)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, dead, func(context.Context, *tasks.Task[int]) error {
		return tasks.Permanent(errors.New("mailbox gone"))
	})
	tasks.MustHandle(reg, blocking, func(ctx context.Context, tk *tasks.Task[int]) error {
		if tk.Attempt == 1 {
			return errors.New("flaky") // the second attempt is a redelivery
		}
		blocked <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	})
	tasks.MustHandle(reg, retrying, func(context.Context, *tasks.Task[int]) error {
		retried <- struct{}{}
		return tasks.RetryAfter(time.Hour, errors.New("not yet"))
	})
	b.startWorker(t, reg)
	t.Cleanup(func() { close(release) }) // before the worker stops: it waits for its handlers

	enqueue := func(def *tasks.Definition[int], n int, opts ...producer.EnqueueOption) {
		t.Helper()
		for i := range n {
			if _, err := producer.Enqueue(ctx, b.p, def, i, opts...); err != nil {
				t.Fatal(err)
			}
		}
	}
	enqueue(unserved, 3)
	enqueue(dead, 2)
	enqueue(blocking, 1)
	enqueue(retrying, 1)
	enqueue(later, 2, producer.WithDelay(time.Hour))
	// A third, cancelled: counted as cancelled, no longer as scheduled.
	enqueue(later, 1, producer.WithDelay(time.Hour), producer.WithID("later-cancelled"))
	in, err := inspect.New(b.js)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Cancel(ctx, inspect.Ref{ID: "later-cancelled"}); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []chan struct{}{blocked, retried} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("a handler did not start")
		}
	}
	pauseEnd := time.Now().Add(time.Hour)
	if _, err := b.js.PauseConsumer(ctx, "JETQ_TASKS", "default:job:retry", pauseEnd); err != nil {
		t.Fatal(err)
	}

	type row map[string]float64
	want := map[string]row{
		"report.render": {"jetq_queue_pending_tasks": 3},
		"mail.send":     {"jetq_dlq_tasks": 2, "jetq_queue_workers": 1},
		"job.block": {"jetq_queue_running_tasks": 1, "jetq_queue_in_flight_tasks": 1,
			"jetq_queue_redelivered_tasks": 1, "jetq_queue_workers": 1},
		"job.retry": {"jetq_queue_waiting_to_retry_tasks": 1, "jetq_queue_in_flight_tasks": 1,
			"jetq_queue_paused": 1, "jetq_queue_workers": 1},
		"job.later": {"jetq_queue_scheduled_tasks": 2, "jetq_queue_cancelled_tasks": 1},
	}
	gauges := []string{"jetq_queue_pending_tasks", "jetq_queue_running_tasks", "jetq_queue_held_tasks", "jetq_queue_waiting_to_retry_tasks",
		"jetq_queue_in_flight_tasks", "jetq_queue_redelivered_tasks", "jetq_queue_scheduled_tasks",
		"jetq_queue_paused", "jetq_queue_workers", "jetq_dlq_tasks", "jetq_queue_cancelled_tasks"}
	s := b.waitScrape(t, func(s scrape) error {
		var errs []error
		for task, r := range want {
			for _, g := range gauges {
				got, ok := s.value(g, map[string]string{"queue": "default", "task": task})
				if !ok || got != r[g] {
					errs = append(errs, fmt.Errorf("%s{task=%q}: got %v (present %v), want %v", g, task, got, ok, r[g]))
				}
			}
		}
		return errors.Join(errs...)
	})

	for task, r := range want {
		age, _ := s.value("jetq_queue_oldest_pending_age_seconds", map[string]string{"queue": "default", "task": task})
		if pending := r["jetq_queue_pending_tasks"] > 0; pending && (age <= 0 || age > 60) || !pending && age != 0 {
			t.Errorf("jetq_queue_oldest_pending_age_seconds{task=%q}: got %v, want a moment with tasks pending, else 0", task, age)
		}
	}
	for _, g := range append(gauges, "jetq_queue_oldest_pending_age_seconds") {
		if got, want := len(s[g].GetMetric()), len(want); got != want {
			t.Errorf("%s: got %d series, want one per task type, %d", g, got, want)
		}
		if got := s[g].GetType(); got != dto.MetricType_GAUGE {
			t.Errorf("%s: type %v, want gauge", g, got)
		}
	}
	for task := range want {
		got, _ := s.value("jetq_queue_paused_until_seconds", map[string]string{"queue": "default", "task": task})
		if want := float64(pauseEnd.UnixNano()) / 1e9; task == "job.retry" && math.Abs(got-want) > 1e-3 || task != "job.retry" && got != 0 {
			t.Errorf("jetq_queue_paused_until_seconds{task=%q}: got %v, want the pause's end, %v, on job.retry, else 0", task, got, want)
		}
	}
	if up, _ := s.value("jetq_up", nil); up != 1 {
		t.Errorf("jetq_up: got %v, want 1", up)
	}
	if errs, ok := s.value("jetq_scrape_errors_total", nil); !ok || errs != 0 {
		t.Errorf("jetq_scrape_errors_total: got %v (present %v), want 0", errs, ok)
	}
	if _, ok := s.value("jetq_scrape_duration_seconds", nil); !ok {
		t.Error("jetq_scrape_duration_seconds missing")
	}

	// The collector's own names follow the Prometheus conventions.
	var own []*dto.MetricFamily
	for _, name := range s.names() {
		if strings.HasPrefix(name, "jetq_queue_") || strings.HasPrefix(name, "jetq_dlq_") ||
			strings.HasPrefix(name, "jetq_up") || strings.HasPrefix(name, "jetq_scrape_") {
			own = append(own, s[name])
		}
	}
	problems, err := promlint.NewWithMetricFamilies(own).Lint()
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
}

// TestHeldGauge gives a worker of concurrency 1 more tasks than it runs:
// jetq_queue_running_tasks is its one handler, and the deliveries in its
// prefetch are jetq_queue_held_tasks.
func TestHeldGauge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	slow := tasks.Define[int]("job.slow")
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, slow, func(ctx context.Context, _ *tasks.Task[int]) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	})
	for i := range 4 {
		if _, err := producer.Enqueue(ctx, b.p, slow, i); err != nil {
			t.Fatal(err)
		}
	}
	b.startWorker(t, reg, consumer.WithConcurrency(1), consumer.WithPrefetch(2))
	t.Cleanup(func() { close(release) }) // before the worker stops: it waits for its handlers
	lbl := map[string]string{"queue": "default", "task": "job.slow"}
	b.waitScrape(t, func(s scrape) error {
		running, _ := s.value("jetq_queue_running_tasks", lbl)
		held, _ := s.value("jetq_queue_held_tasks", lbl)
		waiting, _ := s.value("jetq_queue_waiting_to_retry_tasks", lbl)
		inFlight, _ := s.value("jetq_queue_in_flight_tasks", lbl)
		if running != 1 || held != inFlight-1 || waiting != 0 {
			return fmt.Errorf("want 1 running and the rest of %v in flight held: running %v, held %v, waiting %v", inFlight, running, held, waiting)
		}
		return nil
	})
}

// stalled is a server that never answers: every request waits for its
// context to end.
type stalled struct{ jetstream.JetStream }

func (stalled) Stream(ctx context.Context, _ string) (jetstream.Stream, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// syncBuffer collects log output written from the handler's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestScrapeFailure checks that a scrape that cannot read the server
// answers, says so in jetq_up and jetq_scrape_errors_total, logs why, and
// still serves the other collectors.
func TestScrapeFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		js      func(t *testing.T) jetstream.JetStream
		wantLog string
	}{
		{"connection closed", func(t *testing.T) jetstream.JetStream {
			nc, js := embeddedtest.Connect(t, embeddedtest.Server(t))
			nc.Close()
			return js
		}, "connection closed"},
		{"server does not answer", func(*testing.T) jetstream.JetStream { return stalled{} }, "timeout=100ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			m, err := metrics.New(tc.js(t), metrics.WithTimeout(100*time.Millisecond),
				metrics.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			web := httptest.NewServer(m.Handler())
			t.Cleanup(web.Close)
			for i := 1; i <= 2; i++ {
				s, err := get(web, "/") // fails unless 200
				if err != nil {
					t.Fatal(err)
				}
				if up, ok := s.value("jetq_up", nil); !ok || up != 0 {
					t.Errorf("scrape %d: jetq_up got %v (present %v), want 0", i, up, ok)
				}
				if got, _ := s.value("jetq_scrape_errors_total", nil); got != float64(i) {
					t.Errorf("scrape %d: jetq_scrape_errors_total got %v, want %d", i, got, i)
				}
				if _, ok := s["jetq_queue_pending_tasks"]; ok {
					t.Errorf("scrape %d: queue gauges reported without a read of the server", i)
				}
				if _, ok := s["go_goroutines"]; !ok {
					t.Errorf("scrape %d: the Go collector is not served: %v", i, s.names())
				}
			}
			if got := logs.String(); !strings.Contains(got, "level=WARN") ||
				!strings.Contains(got, "metrics: cannot read queue statistics") || !strings.Contains(got, tc.wantLog) {
				t.Errorf("log: got %q, want a warning with %q", got, tc.wantLog)
			}
		})
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	js := stalled{}
	for _, tc := range []struct {
		name string
		js   jetstream.JetStream
		opts []metrics.Option
	}{
		{"nil js", nil, nil},
		{"bad prefix", js, []metrics.Option{metrics.WithTopology(topology.Topology{Prefix: "Bad Prefix"})}},
		{"bad topology", js, []metrics.Option{metrics.WithTopology(topology.Topology{Replicas: 9})}},
		{"zero timeout", js, []metrics.Option{metrics.WithTimeout(0)}},
		{"negative timeout", js, []metrics.Option{metrics.WithTimeout(-time.Second)}},
	} {
		if _, err := metrics.NewCollector(tc.js, tc.opts...); !errors.Is(err, metrics.ErrInvalidOption) {
			t.Errorf("NewCollector, %s: got %v, want ErrInvalidOption", tc.name, err)
		}
		if _, err := metrics.New(tc.js, tc.opts...); !errors.Is(err, metrics.ErrInvalidOption) {
			t.Errorf("New, %s: got %v, want ErrInvalidOption", tc.name, err)
		}
	}
	if _, err := metrics.New(js, metrics.WithTopology(topology.Topology{Prefix: "other"}), metrics.WithTimeout(time.Second)); err != nil {
		t.Errorf("New with valid options: %v", err)
	}
}

// TestPrefix reads the queues of a deployment with its own prefix.
func TestPrefix(t *testing.T) {
	t.Parallel()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	p, err := producer.New(js, producer.WithTopology(topology.Topology{Prefix: "billing"}), producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if _, err := producer.Enqueue(context.Background(), p, tasks.Define[int]("invoice.send"), 1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefix string
		want   int // series of jetq_queue_pending_tasks
	}{{"billing", 1}, {"jetq", 0}} {
		m, err := metrics.New(js, metrics.WithTopology(topology.Topology{Prefix: tc.prefix}))
		if err != nil {
			t.Fatal(err)
		}
		web := httptest.NewServer(m.Handler())
		s, err := get(web, "/")
		web.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(s["jetq_queue_pending_tasks"].GetMetric()); got != tc.want {
			t.Errorf("prefix %q: got %d series, want %d", tc.prefix, got, tc.want)
		}
		if up, _ := s.value("jetq_up", nil); up != 1 {
			t.Errorf("prefix %q: jetq_up got %v, want 1", tc.prefix, up)
		}
	}
}

// TestHandlerNegotiates serves the protobuf format to a scraper that asks.
func TestHandlerNegotiates(t *testing.T) {
	t.Parallel()
	m, err := metrics.New(stalled{}, metrics.WithTimeout(time.Millisecond), metrics.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	m.Handler().ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusOK || !strings.HasPrefix(ct, "application/vnd.google.protobuf") {
		t.Errorf("got %d %q, want 200 and protobuf", rec.Code, ct)
	}
}

// TestLimitGauges runs a worker with a type limited to 2 starts an hour
// and 4 tasks, a type limited to 1 start an hour per key with 3 tasks of
// one key, and a type limited to one running task per key whose handlers
// block, with tasks of two keys: the limit gauges show the limits, the
// starts and places the server holds, and what waits; the key label is
// set on the busiest keys only.
func TestLimitGauges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	rated := tasks.Define[int]("job.rated", tasks.WithRateLimit(2, time.Hour))
	keyed := tasks.Define[int]("job.keyed", tasks.WithKeyRateLimit(1, time.Hour))
	placed := tasks.Define[int]("job.placed", tasks.WithKeyConcurrency(1))
	// A window that ends during the test leaves the same to read.
	jetqtest.HoldNextWindow(t, b.js, rated.Spec(), 2, nil)
	jetqtest.HoldNextWindow(t, b.js, keyed.Spec(), 0, map[string]int{"x": 1})
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, rated, func(context.Context, *tasks.Task[int]) error { return nil })
	tasks.MustHandle(reg, keyed, func(context.Context, *tasks.Task[int]) error { return nil })
	tasks.MustHandle(reg, placed, blockUntil(release))
	b.startWorker(t, reg, consumer.WithConcurrency(4), consumer.WithShutdownTimeout(time.Second))
	t.Cleanup(func() { close(release) }) // before the worker stops
	enqueue := func(def *tasks.Definition[int], n int, opts ...producer.EnqueueOption) {
		t.Helper()
		for i := range n {
			if _, err := producer.Enqueue(ctx, b.p, def, i, opts...); err != nil {
				t.Fatal(err)
			}
		}
	}
	enqueue(rated, 4)
	enqueue(keyed, 3, producer.WithKey("x"))
	enqueue(placed, 2, producer.WithKey("a"))
	enqueue(placed, 1, producer.WithKey("b"))

	type sample struct {
		name   string
		labels map[string]string
		want   float64
	}
	lbl := func(task string, kv ...string) map[string]string {
		m := map[string]string{"queue": "default", "task": task}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	want := []sample{
		{"jetq_rate_limit_limit", lbl("job.rated", "scope", "type"), 2},
		{"jetq_rate_limit_window_seconds", lbl("job.rated", "scope", "type"), 3600},
		{"jetq_rate_limit_starts", lbl("job.rated", "scope", "type"), 2},
		{"jetq_rate_limit_waiting_tasks", lbl("job.rated", "scope", "type"), 2},
		{"jetq_rate_limit_limit", lbl("job.keyed", "scope", "key"), 1},
		{"jetq_rate_limit_starts", lbl("job.keyed", "scope", "key"), 1},
		{"jetq_rate_limit_waiting_tasks", lbl("job.keyed", "scope", "key"), 2},
		{"jetq_rate_limit_keys", lbl("job.keyed"), 1},
		{"jetq_rate_limit_top_key_starts", lbl("job.keyed", "key", "x"), 1},
		{"jetq_key_concurrency_limit", lbl("job.placed"), 1},
		{"jetq_key_running_places", lbl("job.placed"), 2},
		{"jetq_key_running_keys", lbl("job.placed"), 2},
		{"jetq_key_running_top_key_places", lbl("job.placed", "key", "a"), 1},
		{"jetq_key_running_top_key_places", lbl("job.placed", "key", "b"), 1},
	}
	s := b.waitScrape(t, func(s scrape) error {
		var errs []error
		for _, w := range want {
			if got, ok := s.value(w.name, w.labels); !ok || got != w.want {
				errs = append(errs, fmt.Errorf("%s%v: got %v (present %v), want %v", w.name, w.labels, got, ok, w.want))
			}
		}
		return errors.Join(errs...)
	})
	// One series a limit, one a top key; none for the type without limits.
	for name, n := range map[string]int{"jetq_rate_limit_limit": 2, "jetq_rate_limit_keys": 1,
		"jetq_key_running_top_key_places": 2, "jetq_rate_limit_top_key_starts": 1} {
		if got := len(s[name].GetMetric()); got != n {
			t.Errorf("%s: %d series, want %d", name, got, n)
		}
	}
	var own []*dto.MetricFamily
	for _, name := range s.names() {
		if strings.HasPrefix(name, "jetq_rate_limit_") || strings.HasPrefix(name, "jetq_key_") {
			own = append(own, s[name])
		}
	}
	if len(own) != 10 {
		t.Errorf("limit families: %d, want 10", len(own))
	}
	if problems, err := promlint.NewWithMetricFamilies(own).Lint(); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
}
