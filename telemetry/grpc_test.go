package telemetry_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/jetq/jetq/telemetry"
	"github.com/jetq/jetq/tracing"
)

// newGRPCReceiver starts an OTLP/gRPC collector on loopback, with the trace
// and metrics services, that keeps what it is sent in a receiver. It
// returns the receiver and the collector's http:// endpoint (no TLS).
func newGRPCReceiver(t *testing.T) (*receiver, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, traceService{r: r})
	collectormetrics.RegisterMetricsServiceServer(srv, metricsService{r: r})
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return r, "http://" + lis.Addr().String()
}

type traceService struct {
	collectortrace.UnimplementedTraceServiceServer
	r *receiver
}

func (s traceService) Export(_ context.Context, in *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	s.r.mu.Lock()
	s.r.traces = append(s.r.traces, in)
	s.r.mu.Unlock()
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

type metricsService struct {
	collectormetrics.UnimplementedMetricsServiceServer
	r *receiver
}

func (s metricsService) Export(_ context.Context, in *collectormetrics.ExportMetricsServiceRequest) (*collectormetrics.ExportMetricsServiceResponse, error) {
	s.r.mu.Lock()
	s.r.metrics = append(s.r.metrics, in)
	s.r.mu.Unlock()
	return &collectormetrics.ExportMetricsServiceResponse{}, nil
}

// resetGlobals puts no-op otel globals back when t ends.
func resetGlobals(t *testing.T) {
	t.Cleanup(func() {
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
}

// setupAndRun runs Setup under the environment the test set, one task
// through the tracing middlewares, and shutdown.
func setupAndRun(t *testing.T, task string) {
	t.Helper()
	ctx := context.Background()
	shutdown, err := telemetry.Setup(ctx, "jetq-grpc-test")
	if err != nil {
		t.Fatal(err)
	}
	runOne(t, task, tracing.Producer(), tracing.Consumer())
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// checkSpans fails t unless r holds the send and process spans of task,
// linked, with the resource Setup made.
func checkSpans(t *testing.T, r *receiver, task string) {
	t.Helper()
	spans := r.spans()
	send, process := spans["send jetq.task.default."+task], spans["process jetq.task.default."+task]
	if len(send) != 1 || len(process) != 1 {
		t.Fatalf("received spans %v, want one send and one process", keys(spans))
	}
	if string(process[0].span.GetParentSpanId()) != string(send[0].span.GetSpanId()) {
		t.Error("process span is not the child of send")
	}
	if got := send[0].resource["service.name"]; got != "jetq-grpc-test" {
		t.Errorf("resource service.name = %q, want jetq-grpc-test", got)
	}
}

// checkMetrics fails t unless r holds the worker's metrics.
func checkMetrics(t *testing.T, r *receiver) {
	t.Helper()
	got := r.metricNames()
	for _, name := range []string{"messaging.client.sent.messages", "messaging.process.duration"} {
		if !got[name] {
			t.Errorf("metric %s not exported; got %v", name, got)
		}
	}
}

// TestSetupGRPC cannot run in parallel: it sets environment variables and
// the otel globals.
func TestSetupGRPC(t *testing.T) {
	r, endpoint := newGRPCReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
	resetGlobals(t)
	setupAndRun(t, "grpc.task")
	checkSpans(t, r, "grpc.task")
	checkMetrics(t, r)
}

// TestSetupPerSignalProtocol has the per-signal variable override the
// general one: traces over HTTP, metrics over gRPC. It cannot run in
// parallel: it sets environment variables and the otel globals.
func TestSetupPerSignalProtocol(t *testing.T) {
	httpR := newReceiver(t)
	grpcR, endpoint := newGRPCReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", httpR.srv.URL+"/v1/traces")
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint)
	resetGlobals(t)
	setupAndRun(t, "signal.task")
	checkSpans(t, httpR, "signal.task")
	checkMetrics(t, grpcR)
	if n := len(httpR.metricNames()); n != 0 {
		t.Errorf("the HTTP receiver got %d metrics, want none", n)
	}
	if n := len(grpcR.spans()); n != 0 {
		t.Errorf("the gRPC receiver got %d span names, want none", n)
	}
}

// TestSetupSDKDisabled cannot run in parallel: it sets environment
// variables and the otel globals.
func TestSetupSDKDisabled(t *testing.T) {
	for _, value := range []string{"true", "TRUE", " True "} {
		t.Run(value, func(t *testing.T) {
			httpR := newReceiver(t)
			t.Setenv("OTEL_SDK_DISABLED", value)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", httpR.srv.URL)
			// A value Setup would refuse if the SDK were on: disabled wins.
			t.Setenv("OTEL_METRICS_EXPORTER", "prometheus")
			tp, mp := tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider()
			prop := propagation.NewCompositeTextMapPropagator()
			otel.SetTracerProvider(tp)
			otel.SetMeterProvider(mp)
			otel.SetTextMapPropagator(prop)
			resetGlobals(t)

			ctx := context.Background()
			shutdown, err := telemetry.Setup(ctx, "jetq-disabled-test")
			if err != nil {
				t.Fatal(err)
			}
			if otel.GetTracerProvider() != tp || otel.GetMeterProvider() != mp {
				t.Error("Setup replaced a global provider")
			}
			if len(otel.GetTextMapPropagator().Fields()) != 0 {
				t.Error("Setup installed a propagator")
			}
			runOne(t, "disabled.task", tracing.Producer(), tracing.Consumer())
			if err := shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if n, m := len(httpR.spans()), len(httpR.metricNames()); n != 0 || m != 0 {
				t.Errorf("exported %d span names and %d metrics, want none", n, m)
			}
		})
	}
}

// TestSetupSDKDisabledFalse: only "true" disables the SDK.
func TestSetupSDKDisabledFalse(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "false")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9") // never reached
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	resetGlobals(t)
	mp := metricnoop.NewMeterProvider()
	otel.SetMeterProvider(mp)
	shutdown, err := telemetry.Setup(context.Background(), "jetq-test")
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	if otel.GetMeterProvider() == mp {
		t.Error("OTEL_SDK_DISABLED=false: Setup installed no meter provider")
	}
}

// TestSetupRefusals cannot run in parallel: it sets environment variables
// and the otel globals.
func TestSetupRefusals(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want []string // in the error
	}{
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
			[]string{`OTEL_EXPORTER_OTLP_PROTOCOL="http/json"`, "grpc or http/protobuf"}},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift"},
			[]string{`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="thrift"`}},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "HTTP"},
			[]string{`OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="HTTP"`}},
		{map[string]string{"OTEL_METRICS_EXPORTER": "prometheus"},
			[]string{`OTEL_METRICS_EXPORTER="prometheus"`, "OTEL_METRICS_EXPORTER=none", "go.opentelemetry.io/otel/exporters/prometheus", "promhttp.Handler"}},
		{map[string]string{"OTEL_TRACES_EXPORTER": "prometheus"},
			[]string{`OTEL_TRACES_EXPORTER="prometheus"`, "otlp, or none"}},
	} {
		var name []string
		for k, v := range tc.env {
			name = append(name, k+"="+v)
		}
		t.Run(strings.Join(name, ","), func(t *testing.T) {
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9") // never reached
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			tp, mp := tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider()
			otel.SetTracerProvider(tp)
			otel.SetMeterProvider(mp)
			resetGlobals(t)
			shutdown, err := telemetry.Setup(context.Background(), "jetq-test")
			if err == nil {
				_ = shutdown(context.Background())
				t.Fatal("Setup accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if otel.GetTracerProvider() != tp || otel.GetMeterProvider() != mp {
				t.Error("a refused Setup replaced a global provider")
			}
		})
	}
}
