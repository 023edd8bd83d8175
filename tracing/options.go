package tracing

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Option configures [Producer] and [Consumer]; the same options fit both.
type Option func(*config)

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagators    propagation.TextMapPropagator
	linkOnly       bool
}

// newConfig applies opts and fills what they left out from the otel
// globals. The globals delegate to whatever is installed later, so a
// middleware built before telemetry.Setup runs still reports to its providers.
func newConfig(opts []Option) config {
	var c config
	for _, opt := range opts {
		opt(&c)
	}
	if c.tracerProvider == nil {
		c.tracerProvider = otel.GetTracerProvider()
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	if c.propagators == nil {
		c.propagators = otel.GetTextMapPropagator()
	}
	return c
}

func (c config) tracer() trace.Tracer {
	return c.tracerProvider.Tracer(ScopeName,
		trace.WithInstrumentationVersion(Version),
		trace.WithSchemaURL(semconv.SchemaURL))
}

func (c config) meter() metric.Meter {
	return c.meterProvider.Meter(ScopeName,
		metric.WithInstrumentationVersion(Version),
		metric.WithSchemaURL(semconv.SchemaURL))
}

// WithTracerProvider starts spans from tp. Default: the global provider,
// otel.GetTracerProvider(), which forwards to whatever provider is installed
// with otel.SetTracerProvider, even after the middleware is built. A nil tp
// keeps the default.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) {
		if tp != nil {
			c.tracerProvider = tp
		}
	}
}

// WithMeterProvider records metrics with mp. Default: the global provider,
// otel.GetMeterProvider(), which forwards like the global tracer provider
// does. A nil mp keeps the default.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) {
		if mp != nil {
			c.meterProvider = mp
		}
	}
}

// WithPropagators injects and extracts the trace context in task headers
// with p. Default: the global propagator, otel.GetTextMapPropagator(), which
// propagates nothing until one is installed (telemetry.Setup installs W3C trace
// context and baggage). A nil p keeps the default.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(c *config) {
		if p != nil {
			c.propagators = p
		}
	}
}

// WithLinkOnly makes each process span the child of the worker's own
// context, usually a new trace, with a link to the producer's span, instead
// of the producer span's child. It is the OpenTelemetry messaging
// conventions' default structure; jetq's default, child-of, shows a task's
// enqueue, attempts and dead-lettering as one waterfall. It matters to
// [Consumer] only.
func WithLinkOnly() Option {
	return func(c *config) { c.linkOnly = true }
}
