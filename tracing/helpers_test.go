package tracing_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/jetq/jetq/internal/testkit"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
)

// Args is the payload of the test tasks.
type Args struct {
	N int `json:"n"`
}

// fast retries after 20 ms, without jitter.
var fast = tasks.WithBackoff(tasks.Backoff{Initial: 20 * time.Millisecond, Jitter: -1})

// propagators is what Setup installs; the tests pass it explicitly because
// the global propagator propagates nothing until one is installed.
var propagators = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

type bundle struct {
	srv     *embedded.Server
	js      jetstream.JetStream
	spans   *tracetest.SpanRecorder
	tp      *sdktrace.TracerProvider
	metrics *sdkmetric.ManualReader
	mp      *sdkmetric.MeterProvider
	p       *producer.Producer
}

// setup starts a server and a traced producer; opts go to both middlewares
// after the bundle's providers and propagators. The server listens on
// loopback, as a real one would on the network, so that spans have a
// server.address: an in-process connection has none.
func setup(t *testing.T, opts ...tracing.Option) *bundle {
	t.Helper()
	b := &bundle{
		srv:   embeddedtest.Server(t, embedded.WithListen("127.0.0.1:0")),
		spans: tracetest.NewSpanRecorder(), metrics: sdkmetric.NewManualReader(),
	}
	_, b.js = embeddedtest.Connect(t, b.srv)
	b.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b.spans))
	b.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(b.metrics))
	t.Cleanup(func() {
		_ = b.tp.Shutdown(context.Background())
		_ = b.mp.Shutdown(context.Background())
	})
	b.p = jetqtest.NewProducer(t, b.js, producer.WithMiddleware(tracing.Producer(b.options(opts...)...)))
	return b
}

func (b *bundle) options(opts ...tracing.Option) []tracing.Option {
	return append([]tracing.Option{
		tracing.WithTracerProvider(b.tp),
		tracing.WithMeterProvider(b.mp),
		tracing.WithPropagators(propagators),
	}, opts...)
}

// startWorker runs a traced worker on its own connection until the test ends.
func (b *bundle) startWorker(t *testing.T, reg *tasks.Registry, opts ...tracing.Option) {
	t.Helper()
	jetqtest.StartWorker(t, b.srv, reg,
		consumer.WithMiddleware(tracing.Consumer(b.options(opts...)...)),
		consumer.WithDeadLetterMiddleware(tracing.DeadLetter(b.options(opts...)...)))
}

// serverAttrs are the server.address and server.port spans carry: those of
// the bundle's server, which its connections reach on loopback.
func (b *bundle) serverAttrs(t *testing.T) map[attribute.Key]any {
	t.Helper()
	u, err := url.Parse(b.srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	return map[attribute.Key]any{"server.address": u.Hostname(), "server.port": u.Port()}
}

// tracer is the tracer the tests' own spans (requests, handlers) come from.
func (b *bundle) tracer() trace.Tracer { return b.tp.Tracer("test") }

// waitSpans polls the ended spans until cond accepts them and returns them.
func (b *bundle) waitSpans(t *testing.T, cond func(spans []sdktrace.ReadOnlySpan) error) []sdktrace.ReadOnlySpan {
	t.Helper()
	var spans []sdktrace.ReadOnlySpan
	testkit.WaitFor(t, 30*time.Second, func() error {
		spans = b.spans.Ended()
		return cond(spans)
	})
	return spans
}

// countNamed accepts spans once want of them are called name.
func countNamed(name string, want int) func([]sdktrace.ReadOnlySpan) error {
	return func(spans []sdktrace.ReadOnlySpan) error {
		if got := len(named(spans, name)); got < want {
			return fmt.Errorf("spans %q: got %d, want %d", name, got, want)
		}
		return nil
	}
}

// collect reads the metrics recorded so far.
func (b *bundle) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := b.metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

// named returns the spans called name, in start order.
func named(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	return out
}

// one returns the only span called name, or fails the test.
func one(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	got := named(spans, name)
	if len(got) != 1 {
		t.Fatalf("spans %q: got %d, want 1 (all: %v)", name, len(got), names(spans))
	}
	return got[0]
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name()
	}
	return out
}

// attrs returns a span's attributes by key.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// checkAttrs compares the attributes of s named in want with want.
func checkAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[attribute.Key]any) {
	t.Helper()
	got := attrs(s)
	for k, w := range want {
		v, ok := got[k]
		if !ok {
			t.Errorf("span %q: attribute %s missing, want %v", s.Name(), k, w)
			continue
		}
		if g := v.AsInterface(); fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("span %q: attribute %s = %v, want %v", s.Name(), k, g, w)
		}
	}
}

// hasLink reports whether s links to sc.
func hasLink(s sdktrace.ReadOnlySpan, sc trace.SpanContext) bool {
	for _, l := range s.Links() {
		if l.SpanContext.TraceID() == sc.TraceID() && l.SpanContext.SpanID() == sc.SpanID() {
			return true
		}
	}
	return false
}

// checkLinks fails the test unless s links to want and nothing else, in
// that order.
func checkLinks(t *testing.T, s sdktrace.ReadOnlySpan, want ...trace.SpanContext) {
	t.Helper()
	got := s.Links()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = got[i].SpanContext.TraceID() == want[i].TraceID() && got[i].SpanContext.SpanID() == want[i].SpanID()
	}
	if !ok {
		gotIDs := make([]string, len(got))
		for i, l := range got {
			gotIDs[i] = l.SpanContext.SpanID().String()
		}
		wantIDs := make([]string, len(want))
		for i, sc := range want {
			wantIDs[i] = sc.SpanID().String()
		}
		t.Errorf("span %q: links to spans %v, want %v", s.Name(), gotIDs, wantIDs)
	}
}

// checkParent fails the test unless child's parent is parent.
func checkParent(t *testing.T, child sdktrace.ReadOnlySpan, parent trace.SpanContext) {
	t.Helper()
	if got := child.Parent(); got.TraceID() != parent.TraceID() || got.SpanID() != parent.SpanID() {
		t.Errorf("span %q: parent %s/%s, want %s/%s", child.Name(),
			got.TraceID(), got.SpanID(), parent.TraceID(), parent.SpanID())
	}
}

func hasEvent(s sdktrace.ReadOnlySpan, name string) bool {
	for _, e := range s.Events() {
		if e.Name == name {
			return true
		}
	}
	return false
}

// fixedHex returns n bytes counting up from seed, in hex: a made-up ID.
func fixedHex(n int, seed byte) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return hex.EncodeToString(b)
}

// sendInTrace checks that every span is in the trace of req and returns the
// send span of subject, a producer span and req's child.
func sendInTrace(t *testing.T, spans []sdktrace.ReadOnlySpan, req trace.SpanContext, subject string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range spans {
		if s.SpanContext().TraceID() != req.TraceID() {
			t.Errorf("span %q in trace %s, want %s", s.Name(), s.SpanContext().TraceID(), req.TraceID())
		}
	}
	send := one(t, spans, "send "+subject)
	checkParent(t, send, req)
	if send.SpanKind() != trace.SpanKindProducer {
		t.Errorf("send: kind %v, want producer", send.SpanKind())
	}
	return send
}
