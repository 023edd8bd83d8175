package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/tasks"
)

// DeadLetter returns the middleware that times a worker's publish of each
// dead-letter record, for consumer.WithDeadLetterMiddleware: a
// "send <prefix>.dlq.<queue>.<name>" span of kind PRODUCER, child of the
// process span of the attempt that failed (see [Consumer]), with the reason
// as jetq.dead_letter.reason, the record's stream and sequence, and the
// server.address and server.port of the worker's NATS server. The
// record keeps the task's own trace context, so that a replay links back to
// the task's trace. Under a no-op tracer it costs nothing. The returned
// middleware is safe for concurrent use.
func DeadLetter(opts ...Option) tasks.EnqueueMiddleware {
	tracer := newConfig(opts).tracer()
	return func(next tasks.Enqueuer) tasks.Enqueuer {
		return func(ctx context.Context, batch []*tasks.Envelope) []error {
			return deadLetter(ctx, tracer, next, batch)
		}
	}
}

func deadLetter(ctx context.Context, tracer trace.Tracer, next tasks.Enqueuer, batch []*tasks.Envelope) []error {
	rec := batch[0]
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs,
		systemNATS,
		semconv.MessagingOperationName(opSend),
		semconv.MessagingOperationTypeSend,
		semconv.MessagingDestinationName(rec.Subject),
		// The record's Nats-Msg-Id, "<stream>:<seq>:<stored at>" (the wire format).
		semconv.MessagingMessageID(rec.ID),
		keyTask.String(rec.Name),
		keyQueue.String(rec.Queue),
		keyReason.String(string(rec.Outcome.Reason)),
	)
	ctx, span := tracer.Start(ctx, opSend+" "+rec.Subject,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(appendServer(attrs, rec.Server)...))
	errs := next(ctx, batch)
	if err := errs[0]; err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	} else {
		span.SetAttributes(keyStream.String(rec.Stream), keySequence.Int64(int64(rec.Sequence)))
	}
	span.End()
	return errs
}
