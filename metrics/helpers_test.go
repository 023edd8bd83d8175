package metrics_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/metrics"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
)

// bundle is one server, the Metrics of a process watching it, served over
// real HTTP, and a producer recording to the same Metrics.
type bundle struct {
	srv *embedded.Server
	js  jetstream.JetStream
	m   *metrics.Metrics
	web *httptest.Server
	p   *producer.Producer
}

// setup starts a server and serves a Metrics for it; opts go to [metrics.New].
func setup(t *testing.T, opts ...metrics.Option) *bundle {
	t.Helper()
	b := &bundle{srv: embeddedtest.Server(t)}
	_, b.js = embeddedtest.Connect(t, b.srv)
	m, err := metrics.New(b.js, append([]metrics.Option{metrics.WithLogger(testkit.Logger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	b.m = m
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	b.web = httptest.NewServer(mux)
	t.Cleanup(b.web.Close)
	b.p = jetqtest.NewProducer(t, b.js, producer.WithMiddleware(tracing.Producer(tracing.WithMeterProvider(m.MeterProvider()))))
	t.Cleanup(b.p.Close)
	return b
}

// startWorker runs a worker for reg on its own connection until the test
// ends, its middlewares recording to the bundle's Metrics.
func (b *bundle) startWorker(t *testing.T, reg *tasks.Registry, opts ...consumer.Option) {
	t.Helper()
	mp := tracing.WithMeterProvider(b.m.MeterProvider())
	jetqtest.StartWorker(t, b.srv, reg, append([]consumer.Option{
		consumer.WithPresenceInterval(200 * time.Millisecond),
		consumer.WithMiddleware(tracing.Consumer(mp)),
		consumer.WithDeadLetterMiddleware(tracing.DeadLetter(mp)),
	}, opts...)...)
}

// scrape is one parsed scrape of the bundle's handler.
type scrape map[string]*dto.MetricFamily

// scrape gets /metrics over HTTP as the Prometheus text format and parses it.
func (b *bundle) scrape(t *testing.T) scrape {
	t.Helper()
	s, err := get(b.web, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(web *httptest.Server, path string) (scrape, error) {
	req, err := http.NewRequest(http.MethodGet, web.URL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := web.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		return nil, fmt.Errorf("GET %s: Content-Type %q, want text/plain", path, ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	return p.TextToMetricFamilies(resp.Body)
}

// value returns the value of the sample of name whose labels include every
// one of match, summed over the samples that do: a gauge's, a counter's or
// a histogram's count. ok is false when no sample matches.
func (s scrape) value(name string, match map[string]string) (v float64, ok bool) {
	mf := s[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		got := labelMap(m)
		for k, want := range match {
			if got[k] != want {
				continue next
			}
		}
		ok = true
		switch {
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, ok
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// names returns the metric families of s, sorted.
func (s scrape) names() []string { return slices.Sorted(maps.Keys(s)) }

// waitScrape scrapes until cond accepts a scrape and returns that scrape.
func (b *bundle) waitScrape(t *testing.T, cond func(scrape) error) scrape {
	t.Helper()
	var s scrape
	testkit.WaitFor(t, 30*time.Second, func() error {
		var err error
		if s, err = get(b.web, "/metrics"); err != nil {
			return err
		}
		return cond(s)
	})
	return s
}

// fast retries after 20 ms, without jitter.
var fast = tasks.WithBackoff(tasks.Backoff{Initial: 20 * time.Millisecond, Jitter: -1})

// blockUntil is a handler that runs until release is closed or its ctx
// ends.
func blockUntil(release <-chan struct{}) func(context.Context, *tasks.Task[int]) error {
	return func(ctx context.Context, _ *tasks.Task[int]) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}
}
