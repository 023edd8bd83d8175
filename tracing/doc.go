// Package tracing traces jetq tasks with OpenTelemetry, from the enqueue
// through every attempt to the dead-letter stream, and records their metrics.
//
// # Setup
//
//	p, err := producer.New(js, producer.WithMiddleware(tracing.Producer()))
//	w, err := consumer.New(js, reg, consumer.WithMiddleware(tracing.Consumer()),
//		consumer.WithDeadLetterMiddleware(tracing.DeadLetter()))
//
// [Producer] and [Consumer] use the otel globals unless given [WithTracerProvider],
// [WithMeterProvider] or [WithPropagators]. The package depends on the
// OpenTelemetry API only; telemetry.Setup installs an SDK with OTLP
// exporters as the globals.
//
// # Traces
//
// Enqueueing a task is a "send jetq.task.<queue>.<name>" span whose context
// travels in the task's traceparent header ([HeaderCarrier] keeps the W3C keys
// lower-case, so any NATS client can read and write them). Each attempt is a
// "process jetq.task.<queue>.<name>" span, by default the child of the send
// span and not also linked to it, so a task's enqueue, retries and
// dead-lettering form one waterfall in Jaeger too; [WithLinkOnly] links
// instead. Handler spans started from the handler's ctx nest under the
// process span, which records the settlement (jetq.outcome). Spans follow the
// OpenTelemetry messaging conventions (semconv v1.43.0) with messaging.system
// "nats" and the server.address and server.port of the NATS server; jetq's
// own attributes are under jetq.*.
//
// With [DeadLetter], a dead-lettered task gets a "send jetq.dlq.<queue>.<name>"
// span under its last process span, timing the publish of its dead-letter
// record. A task replayed from the dead-letter stream carries [ReplayHeader]:
// its processing starts a new trace linked to the original.
//
// # Metrics
//
// messaging.client.sent.messages, messaging.client.consumed.messages,
// messaging.process.duration (by jetq.outcome), jetq.task.wait.duration
// (enqueue to start of an attempt), jetq.task.active and
// jetq.task.dead_lettered (by jetq.dead_letter.reason). Their attributes are
// the task type and the outcome, never task IDs.
//
// See the Example for a complete program and its trace.
package tracing
