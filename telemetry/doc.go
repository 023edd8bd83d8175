// Package telemetry exports a process's traces and metrics over OTLP: it
// holds the OpenTelemetry SDK and exporters, so that the tracing package,
// which instruments jetq, depends on the OpenTelemetry API alone, as
// otel-contrib instrumentation does.
//
// # Setup
//
//	shutdown, err := telemetry.Setup(ctx, "billing") // OTLP, OTEL_* variables
//	defer shutdown(context.Background())
//	p, err := producer.New(js, producer.WithMiddleware(tracing.Producer()))
//	w, err := consumer.New(js, reg, consumer.WithMiddleware(tracing.Consumer()),
//		consumer.WithDeadLetterMiddleware(tracing.DeadLetter()))
//
// [Setup] installs the tracer provider, the meter provider and the W3C
// propagators as the otel globals, which tracing.Producer and
// tracing.Consumer use by default. The program in examples/tracing runs it
// against a real collector, or prints the trace.
//
// # Configuration
//
// Setup is configured the OpenTelemetry way, by the environment:
//
//	OTEL_SDK_DISABLED=true                     install and export nothing
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://otel:4318
//	OTEL_EXPORTER_OTLP_PROTOCOL=grpc           or http/protobuf (the default)
//	OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=...    per signal; TRACES_ likewise
//	OTEL_TRACES_EXPORTER=none                  otlp (the default) or none
//	OTEL_METRICS_EXPORTER=none                 otlp (the default) or none
//	OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, ...
//
// Setup pushes over OTLP only. OTEL_METRICS_EXPORTER=prometheus is an
// error that says what to do instead: for a scrape endpoint, set
// OTEL_METRICS_EXPORTER=none and install a meter provider whose reader is
// go.opentelemetry.io/otel/exporters/prometheus, served by
// promhttp.Handler; the tracing middlewares take it from the global or
// from tracing.WithMeterProvider. An OpenTelemetry Collector that receives
// OTLP can expose Prometheus metrics as well.
package telemetry
