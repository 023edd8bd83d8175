package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Option configures [Setup].
type Option func(*config)

type config struct {
	version string
	attrs   []attribute.KeyValue
	sampler sdktrace.Sampler
}

// WithServiceVersion sets the resource's service.version. Default: none.
func WithServiceVersion(v string) Option {
	return func(c *config) { c.version = v }
}

// WithResourceAttributes adds attrs to the resource that describes this
// process, such as deployment.environment.name. Calls add up; the
// OTEL_RESOURCE_ATTRIBUTES variable overrides them.
func WithResourceAttributes(attrs ...attribute.KeyValue) Option {
	return func(c *config) { c.attrs = append(c.attrs, attrs...) }
}

// WithSampler samples traces with s. Default: what OTEL_TRACES_SAMPLER
// says, else every trace whose parent is sampled or that has none
// (ParentBased(AlwaysSample)). A nil s keeps the default.
func WithSampler(s sdktrace.Sampler) Option {
	return func(c *config) { c.sampler = s }
}

// Setup exports this process's traces and metrics over OTLP and makes them
// the otel globals, which tracing.Producer and tracing.Consumer use by
// default.
//
// Setup follows the standard OpenTelemetry variables:
//
//   - OTEL_SDK_DISABLED=true: Setup installs nothing and exports nothing,
//     traces and metrics alike, whatever the other variables say; the
//     globals stay as they were and shutdown does nothing.
//   - OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER: "otlp" (the default)
//     or "none", which turns that signal off and leaves its global provider
//     as it was; a backend that stores only traces, such as Jaeger, wants
//     OTEL_METRICS_EXPORTER=none. Any other exporter is an error, among them
//     "prometheus": Setup only pushes. For a Prometheus scrape endpoint, set
//     OTEL_METRICS_EXPORTER=none and install a meter provider of your own
//     whose reader is go.opentelemetry.io/otel/exporters/prometheus (served
//     by promhttp.Handler), or have an OpenTelemetry Collector take OTLP and
//     expose it to Prometheus.
//   - OTEL_EXPORTER_OTLP_PROTOCOL, overridden per signal by
//     OTEL_EXPORTER_OTLP_TRACES_PROTOCOL and
//     OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/protobuf" (the default) or
//     "grpc". Anything else, "http/json" included, is an error.
//   - OTEL_EXPORTER_OTLP_ENDPOINT (default https://localhost:4318 over
//     HTTP, https://localhost:4317 over gRPC; an http:// endpoint turns TLS
//     off), the per-signal OTEL_EXPORTER_OTLP_TRACES_* and
//     OTEL_EXPORTER_OTLP_METRICS_*, OTEL_EXPORTER_OTLP_HEADERS,
//     OTEL_EXPORTER_OTLP_INSECURE and the rest, read by the exporters;
//     OTEL_TRACES_SAMPLER and OTEL_METRIC_EXPORT_INTERVAL (default 60 s)
//     too.
//
// The resource has service.name serviceName, unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES says otherwise; an empty serviceName leaves the
// SDK's default, unknown_service:<program>. Setup installs the tracer
// provider, the meter provider and a W3C trace context plus baggage
// propagator as the globals, replacing what was there.
//
// Setup does no network I/O: an unreachable collector shows up later, as
// export errors, which the SDK passes to otel.Handle as they happen and
// Setup keeps count of. It returns an error, and installs nothing, only
// when a variable above has a value it does not take, or an exporter or the
// resource cannot be built from the configuration.
//
// shutdown flushes what is buffered and stops both exporters, within its
// ctx; call it before the process exits. It returns their errors, and an
// error for each signal of which an export failed, with how many did, how
// many spans were lost and the last failure's error, so that a collector
// that was down is not reported as success. It returns the same result when
// called again. The tracer provider's ForceFlush reports the span export
// failures since its previous call the same way, and shutdown then does not
// report them again.
func Setup(ctx context.Context, serviceName string, opts ...Option) (shutdown func(context.Context) error, err error) {
	var cfg config
	for _, opt := range opts {
		opt(&cfg)
	}
	if sdkDisabled() {
		return func(context.Context) error { return nil }, nil
	}
	tracesOn, err := exporterOn("OTEL_TRACES_EXPORTER")
	if err != nil {
		return nil, err
	}
	metricsOn, err := exporterOn("OTEL_METRICS_EXPORTER")
	if err != nil {
		return nil, err
	}
	var tracesGRPC, metricsGRPC bool
	if tracesOn {
		if tracesGRPC, err = protocolGRPC("TRACES"); err != nil {
			return nil, err
		}
	}
	if metricsOn {
		if metricsGRPC, err = protocolGRPC("METRICS"); err != nil {
			return nil, err
		}
	}
	var attrs []attribute.KeyValue
	if serviceName != "" {
		attrs = append(attrs, semconv.ServiceName(serviceName))
	}
	if cfg.version != "" {
		attrs = append(attrs, semconv.ServiceVersion(cfg.version))
	}
	attrs = append(attrs, cfg.attrs...)
	// Later sources win: the SDK's defaults, then ours, then the environment.
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithService(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(),
	)
	switch {
	case errors.Is(err, resource.ErrPartialResource):
		// A malformed OTEL_RESOURCE_ATTRIBUTES loses only its own attributes.
		otel.Handle(err)
	case err != nil:
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}

	var (
		tp                   *sdktrace.TracerProvider
		mp                   *sdkmetric.MeterProvider
		spanErrs, metricErrs *exportErrors
	)
	if tracesOn {
		var exp *otlptrace.Exporter
		if tracesGRPC {
			exp, err = otlptracegrpc.New(ctx)
		} else {
			exp, err = otlptracehttp.New(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("telemetry: trace exporter: %w", err)
		}
		spanErrs = &exportErrors{signal: "span"}
		bsp := sdktrace.NewBatchSpanProcessor(spanExporter{exp, spanErrs})
		tpOpts := []sdktrace.TracerProviderOption{
			sdktrace.WithSpanProcessor(flushReporter{bsp, spanErrs}),
			sdktrace.WithResource(res),
		}
		if cfg.sampler != nil {
			tpOpts = append(tpOpts, sdktrace.WithSampler(cfg.sampler))
		}
		tp = sdktrace.NewTracerProvider(tpOpts...)
	}
	if metricsOn {
		var exp sdkmetric.Exporter
		if metricsGRPC {
			exp, err = otlpmetricgrpc.New(ctx)
		} else {
			exp, err = otlpmetrichttp.New(ctx)
		}
		if err != nil {
			if tp != nil {
				_ = tp.Shutdown(ctx)
			}
			return nil, fmt.Errorf("telemetry: metric exporter: %w", err)
		}
		metricErrs = &exportErrors{signal: "metric"}
		reader := sdkmetric.NewPeriodicReader(metricExporter{exp, metricErrs})
		mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(res))
	}
	if tp != nil {
		otel.SetTracerProvider(tp)
	}
	if mp != nil {
		otel.SetMeterProvider(mp)
	}
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	var (
		once   sync.Once
		result error
	)
	return func(ctx context.Context) error {
		once.Do(func() {
			// Spans first: ending them may still record metrics.
			var errs []error
			if tp != nil {
				errs = append(errs, spanErrs.report(tp.Shutdown(ctx)))
			}
			if mp != nil {
				errs = append(errs, metricErrs.report(mp.Shutdown(ctx)))
			}
			if err := errors.Join(errs...); err != nil {
				result = fmt.Errorf("telemetry: shutdown: %w", err)
			}
		})
		return result
	}, nil
}

// sdkDisabled reports whether OTEL_SDK_DISABLED is true (in any case), as
// the specification says; any other value leaves the SDK on.
func sdkDisabled() bool {
	return strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true")
}

// exporterOn reads the exporter variable name, OTEL_TRACES_EXPORTER or
// OTEL_METRICS_EXPORTER: "otlp" (the default) or "none".
func exporterOn(name string) (bool, error) {
	switch v := strings.TrimSpace(os.Getenv(name)); v {
	case "", "otlp":
		return true, nil
	case "none":
		return false, nil
	case "prometheus":
		if name == "OTEL_METRICS_EXPORTER" {
			return false, fmt.Errorf("telemetry: %s=%q: Setup pushes metrics over OTLP only; "+
				"for a Prometheus scrape endpoint set %s=none and install a meter provider whose reader is "+
				"go.opentelemetry.io/otel/exporters/prometheus (served by promhttp.Handler), "+
				"or have an OpenTelemetry Collector take OTLP and expose it to Prometheus", name, v, name)
		}
		fallthrough
	default:
		return false, fmt.Errorf("telemetry: %s=%q: Setup exports with otlp, or none", name, v)
	}
}

// protocolGRPC reads the OTLP protocol of signal (TRACES or METRICS):
// OTEL_EXPORTER_OTLP_<signal>_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL.
// It reports whether that is "grpc"; "http/protobuf" (the default) is the
// other protocol Setup takes.
func protocolGRPC(signal string) (bool, error) {
	name := "OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL"
	v, set := os.LookupEnv(name)
	if v = strings.TrimSpace(v); !set || v == "" {
		name = "OTEL_EXPORTER_OTLP_PROTOCOL"
		v = strings.TrimSpace(os.Getenv(name))
	}
	switch v {
	case "", "http/protobuf":
		return false, nil
	case "grpc":
		return true, nil
	default:
		return false, fmt.Errorf("telemetry: %s=%q: Setup exports with grpc or http/protobuf", name, v)
	}
}
