package telemetry_test

import (
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetq/jetq/internal/testkit"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/telemetry"
	"github.com/jetq/jetq/tracing"
)

// receiver is an OTLP/HTTP collector on loopback that keeps what it is sent.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	traces  []*collectortrace.ExportTraceServiceRequest
	metrics []*collectormetrics.ExportMetricsServiceRequest
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, req *http.Request) {
		in := &collectortrace.ExportTraceServiceRequest{}
		if !decode(t, w, req, in) {
			return
		}
		r.mu.Lock()
		r.traces = append(r.traces, in)
		r.mu.Unlock()
		reply(t, w, &collectortrace.ExportTraceServiceResponse{})
	})
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, req *http.Request) {
		in := &collectormetrics.ExportMetricsServiceRequest{}
		if !decode(t, w, req, in) {
			return
		}
		r.mu.Lock()
		r.metrics = append(r.metrics, in)
		r.mu.Unlock()
		reply(t, w, &collectormetrics.ExportMetricsServiceResponse{})
	})
	// httptest listens on 127.0.0.1 only.
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

func decode(t *testing.T, w http.ResponseWriter, req *http.Request, m proto.Message) bool {
	body := io.Reader(req.Body)
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return false
		}
		body = gz
	}
	b, err := io.ReadAll(body)
	if err == nil {
		err = proto.Unmarshal(b, m)
	}
	if err != nil {
		t.Errorf("receiver: %s: %v", req.URL.Path, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func reply(t *testing.T, w http.ResponseWriter, m proto.Message) {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Errorf("receiver: %v", err)
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

// exportedSpan is a span as the receiver got it, with its resource.
type exportedSpan struct {
	span     *tracepb.Span
	resource map[string]string
}

func (r *receiver) spans() map[string][]exportedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]exportedSpan{}
	for _, req := range r.traces {
		for _, rs := range req.GetResourceSpans() {
			res := stringAttrs(rs.GetResource().GetAttributes())
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					out[s.GetName()] = append(out[s.GetName()], exportedSpan{s, res})
				}
			}
		}
	}
	return out
}

func (r *receiver) metricNames() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]bool{}
	for _, req := range r.metrics {
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					out[m.GetName()] = true
				}
			}
		}
	}
	return out
}

func stringAttrs(kvs []*commonpb.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		out[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	return out
}

// Args is the payload of the test tasks.
type Args struct {
	N int `json:"n"`
}

// runOne enqueues one task of a fresh definition through a producer and a
// worker with the given middleware and waits until it is handled.
func runOne(t *testing.T, name string, pmw tasks.EnqueueMiddleware, cmw tasks.Middleware) {
	t.Helper()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	def := tasks.Define[Args](name)
	handled := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		close(handled)
		return nil
	})
	w, err := consumer.New(js, reg, consumer.WithLogger(testkit.Logger(t)), consumer.WithMiddleware(cmw))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(ctx) }()
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)), producer.WithMiddleware(pmw))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := producer.Enqueue(context.Background(), p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-handled:
	case <-time.After(30 * time.Second):
		t.Fatal("task not handled")
	}
	// Stop the worker so that the process span has ended.
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

func TestExportThroughOTLPHTTP(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(r.srv.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	opts := []tracing.Option{tracing.WithTracerProvider(tp), tracing.WithPropagators(propagation.TraceContext{})}
	runOne(t, "otlp.task", tracing.Producer(opts...), tracing.Consumer(opts...))
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	spans := r.spans()
	send, process := spans["send jetq.task.default.otlp.task"], spans["process jetq.task.default.otlp.task"]
	if len(send) != 1 || len(process) != 1 {
		t.Fatalf("received spans %v, want one send and one process", keys(spans))
	}
	s, p := send[0].span, process[0].span
	if string(p.GetTraceId()) != string(s.GetTraceId()) || string(p.GetParentSpanId()) != string(s.GetSpanId()) {
		t.Error("process span is not the child of send")
	}
	if p.GetKind() != tracepb.Span_SPAN_KIND_CONSUMER || s.GetKind() != tracepb.Span_SPAN_KIND_PRODUCER {
		t.Errorf("kinds: send %v, process %v", s.GetKind(), p.GetKind())
	}
	if got := stringAttrs(p.GetAttributes())["messaging.system"]; got != "nats" {
		t.Errorf("process messaging.system = %q, want nats", got)
	}
}

// TestSetup cannot run in parallel: it sets environment variables and the
// otel globals.
func TestSetup(t *testing.T) {
	r := newReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", r.srv.URL)
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
	t.Cleanup(func() {
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
	ctx := context.Background()
	shutdown, err := telemetry.Setup(ctx, "jetq-setup-test", telemetry.WithServiceVersion("1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	// No options: the middlewares use the globals Setup installed.
	runOne(t, "setup.task", tracing.Producer(), tracing.Consumer())
	if err := otel.GetTracerProvider().(*sdktrace.TracerProvider).ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush with the collector up: %v", err)
	}
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := shutdown(ctx); err != nil {
		t.Errorf("second shutdown: %v", err)
	}

	spans := r.spans()
	send, process := spans["send jetq.task.default.setup.task"], spans["process jetq.task.default.setup.task"]
	if len(send) != 1 || len(process) != 1 {
		t.Fatalf("received spans %v, want one send and one process", keys(spans))
	}
	if string(process[0].span.GetParentSpanId()) != string(send[0].span.GetSpanId()) {
		t.Error("process span is not the child of send: the global propagator is not in place")
	}
	for k, want := range map[string]string{
		"service.name":                "jetq-setup-test",
		"service.version":             "1.2.3",
		"deployment.environment.name": "test",
		"telemetry.sdk.language":      "go",
	} {
		if got := send[0].resource[k]; got != want {
			t.Errorf("resource %s = %q, want %q", k, got, want)
		}
	}
	got := r.metricNames()
	for _, name := range []string{
		"messaging.client.sent.messages",
		"messaging.client.consumed.messages",
		"messaging.process.duration",
		"jetq.task.wait.duration",
		"jetq.task.active",
	} {
		if !got[name] {
			t.Errorf("metric %s not exported; got %v", name, got)
		}
	}
}

// TestShutdownReportsFailedExports cannot run in parallel: it sets
// environment variables and the otel globals.
func TestShutdownReportsFailedExports(t *testing.T) {
	// A port nothing listens on: every export is refused at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+down)
	t.Cleanup(func() {
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
	ctx := context.Background()
	shutdown, err := telemetry.Setup(ctx, "jetq-collector-down")
	if err != nil {
		t.Fatal(err)
	}
	tracer := otel.Tracer("test")
	spans := func(n int) {
		for range n {
			_, span := tracer.Start(ctx, "work")
			span.End()
		}
	}
	counter, err := otel.Meter("test").Int64Counter("test.work")
	if err != nil {
		t.Fatal(err)
	}
	counter.Add(ctx, 1)

	spans(3)
	err = otel.GetTracerProvider().(*sdktrace.TracerProvider).ForceFlush(ctx)
	if err == nil {
		t.Fatal("ForceFlush with the collector down: nil error")
	}
	for _, want := range []string{"1 of 1 span export failed, losing 3 spans", down} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ForceFlush: %q does not say %q", err, want)
		}
	}

	spans(2)
	err = shutdown(ctx)
	if err == nil {
		t.Fatal("shutdown with the collector down: nil error")
	}
	// The spans ForceFlush reported are not reported again.
	for _, want := range []string{"telemetry: shutdown: ", "1 of 1 span export failed, losing 2 spans",
		"1 of 1 metric export failed", down + "/v1/traces", down + "/v1/metrics"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("shutdown: %q does not say %q", err, want)
		}
	}
	if again := shutdown(ctx); again == nil || again.Error() != err.Error() {
		t.Errorf("second shutdown: %v, want the first one's error", again)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestSetupExporterVariables cannot run in parallel: it sets environment
// variables and the otel globals.
func TestSetupExporterVariables(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		wantErr     bool
	}{
		{"OTEL_METRICS_EXPORTER", "none", false},
		{"OTEL_TRACES_EXPORTER", "none", false},
		{"OTEL_METRICS_EXPORTER", "prometheus", true},
		{"OTEL_TRACES_EXPORTER", "zipkin", true},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9") // never reached
			t.Setenv(tc.name, tc.value)
			tp, mp := tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider()
			otel.SetTracerProvider(tp)
			otel.SetMeterProvider(mp)
			t.Cleanup(func() { otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator()) })
			shutdown, err := telemetry.Setup(context.Background(), "jetq-test")
			if tc.wantErr {
				if err == nil {
					t.Fatal("Setup accepted it")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer shutdown(context.Background())
			tracesKept := otel.GetTracerProvider() == trace.TracerProvider(tp)
			metricsKept := otel.GetMeterProvider() == metric.MeterProvider(mp)
			if want := tc.name == "OTEL_TRACES_EXPORTER"; tracesKept != want {
				t.Errorf("global tracer provider kept: %v, want %v", tracesKept, want)
			}
			if want := tc.name == "OTEL_METRICS_EXPORTER"; metricsKept != want {
				t.Errorf("global meter provider kept: %v, want %v", metricsKept, want)
			}
		})
	}
	otel.SetTracerProvider(tracenoop.NewTracerProvider())
	otel.SetMeterProvider(metricnoop.NewMeterProvider())
}
