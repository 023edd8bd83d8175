// Command tracing runs jetq with OpenTelemetry tracing, end to end in one
// process: an embedded NATS server, two "HTTP requests" that enqueue tasks,
// and a worker that processes them — one task succeeds, one fails once and
// is retried, one is permanently bad and lands in the dead-letter stream.
// Each request is one trace, from the request through the enqueue and every
// attempt to the dead-letter record.
//
// Without configuration the spans stay in memory and the program prints each
// trace as a tree. With OTEL_EXPORTER_OTLP_ENDPOINT set it exports the traces
// there over OTLP/HTTP, to Jaeger for example, and prints their IDs; metrics
// go too when OTEL_METRICS_EXPORTER=otlp (Jaeger takes traces only):
//
//	go run ./examples/tracing
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 go run ./examples/tracing
package main
