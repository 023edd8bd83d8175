package tracing

import (
	"context"

	"go.opentelemetry.io/otel/codes"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/tasks"
)

// deadLetterMiddleware times the worker's publish of a dead-letter record
// as a "send <prefix>.dlq.<queue>.<name>" PRODUCER span, child of the process
// span in the ctx the worker publishes under. The record keeps the task's own
// trace context, so that a replay links back to the task's trace.
func (m *processor) deadLetterMiddleware(next tasks.Enqueuer) tasks.Enqueuer {
	return func(ctx context.Context, batch []*tasks.Envelope) []error {
		rec := batch[0]
		ctx, span := m.tracer.Start(ctx, opSend+" "+rec.Subject,
			trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(
				systemNATS,
				semconv.MessagingOperationName(opSend),
				semconv.MessagingOperationTypeSend,
				semconv.MessagingDestinationName(rec.Subject),
				// The record's Nats-Msg-Id, "<stream>:<seq>:<stored at>" (the wire format).
				semconv.MessagingMessageID(rec.ID),
				keyTask.String(rec.Name),
				keyQueue.String(rec.Queue),
				keyReason.String(string(rec.Outcome.Reason)),
			))
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
}
