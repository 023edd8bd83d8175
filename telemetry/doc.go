// Package telemetry exports a process's traces and metrics over OTLP: it
// holds the OpenTelemetry SDK and exporters, so that the tracing package,
// which instruments jetq, depends on the OpenTelemetry API alone, as
// otel-contrib instrumentation does.
//
// # Setup
//
//	shutdown, err := telemetry.Setup(ctx, "billing") // OTLP/HTTP, OTEL_EXPORTER_OTLP_* variables
//	defer shutdown(context.Background())
//	p, err := producer.New(js, producer.WithMiddleware(tracing.Producer()))
//	w, err := consumer.New(js, reg, consumer.WithMiddleware(tracing.Consumer()),
//		consumer.WithDeadLetterMiddleware(tracing.DeadLetter()))
//
// [Setup] installs the tracer provider, the meter provider and the W3C
// propagators as the otel globals, which tracing.Producer and
// tracing.Consumer use by default. The program in examples/tracing runs it
// against a real collector, or prints the trace.
package telemetry
