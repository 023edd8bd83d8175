package tracing

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/tasks"
)

// Producer returns the middleware that traces every enqueue and injects the
// trace context into each task's header, for producer.WithMiddleware.
//
// A single task gets a "send <subject>" span of kind PRODUCER, child of the
// span in the enqueue's ctx; its context travels with the task, so the
// worker's process spans join it. A batch of more than one gets a
// "send <subject>" span of kind CLIENT with messaging.batch.message_count and,
// under it, one "create <subject>" span of kind PRODUCER per task whose
// context travels with that task, as the messaging conventions recommend for
// batch APIs; the send span links to every create span (within the SDK's
// limit on links, 128 by default). Per-task spans end
// when the server has answered and carry the stream and sequence the task was
// stored at, whether it was a duplicate, or the error that kept it out.
//
// A task whose header already holds a valid trace context (set with
// producer.WithHeader) keeps it: no create span is made for it, and the
// send span links to it. Spans carry server.address and server.port of the
// NATS server the tasks go to (tasks.Envelope.Server).
//
// Every task counts once in messaging.client.sent.messages, with error.type
// when it was not stored. The returned middleware is safe for concurrent use.
func Producer(opts ...Option) tasks.EnqueueMiddleware {
	c := newConfig(opts)
	p := &producer{
		tracer:  c.tracer(),
		prop:    c.propagators,
		metrics: newProducerMetrics(c.meter()),
	}
	return func(next tasks.Enqueuer) tasks.Enqueuer {
		return func(ctx context.Context, batch []*tasks.Envelope) []error {
			for _, env := range batch {
				if env.Header == nil {
					env.Header = tasks.Header{}
				}
			}
			var errs []error
			if len(batch) == 1 {
				errs = p.sendOne(ctx, batch, next)
			} else {
				errs = p.sendBatch(ctx, batch, next)
			}
			p.metrics.record(ctx, batch, errs)
			return errs
		}
	}
}

type producer struct {
	tracer  trace.Tracer
	prop    propagation.TextMapPropagator
	metrics producerMetrics
	creates spanStarts // of create spans
}

// createStart is what every create span of one subject starts with, worked
// out once. Only attributes the same for every task of a subject go in at
// the start; the message ID is set only if the span records, so a no-op
// provider costs little.
func (p *producer) createStart(env *tasks.Envelope) *spanStart {
	return p.creates.get(env, func() *spanStart {
		attrs := []attribute.KeyValue{systemNATS, semconv.MessagingOperationName(opCreate), semconv.MessagingOperationTypeCreate,
			semconv.MessagingDestinationName(env.Subject), keyTask.String(env.Name), keyQueue.String(env.Queue)}
		return &spanStart{
			name: opCreate + " " + env.Subject,
			opts: []trace.SpanStartOption{
				trace.WithSpanKind(trace.SpanKindProducer),
				trace.WithAttributes(appendServer(attrs, env.Server)...),
			},
		}
	})
}

func (p *producer) sendOne(ctx context.Context, batch []*tasks.Envelope, next tasks.Enqueuer) []error {
	env := batch[0]
	custom := p.custom(env)
	kind := trace.SpanKindProducer
	var links []trace.Link
	if custom.IsValid() {
		// The span's context is not the task's creation context.
		kind = trace.SpanKindClient
		links = []trace.Link{{SpanContext: custom}}
	}
	ctx, span := p.tracer.Start(ctx, opSend+" "+env.Subject,
		trace.WithSpanKind(kind),
		trace.WithLinks(links...),
		trace.WithAttributes(messageAttrs(env, opSend, semconv.MessagingOperationTypeSend)...))
	if !custom.IsValid() {
		p.prop.Inject(ctx, HeaderCarrier(env.Header))
	}
	errs := next(ctx, batch)
	stored(span, env, errs[0])
	span.End()
	return errs
}

func (p *producer) sendBatch(ctx context.Context, batch []*tasks.Envelope, next tasks.Enqueuer) []error {
	attrs := []attribute.KeyValue{
		systemNATS,
		semconv.MessagingOperationName(opSend),
		semconv.MessagingOperationTypeSend,
		semconv.MessagingBatchMessageCount(len(batch)),
	}
	name := opSend
	if subject, ok := common(batch, func(e *tasks.Envelope) string { return e.Subject }); ok {
		name += " " + subject
		attrs = append(attrs, semconv.MessagingDestinationName(subject))
	}
	if task, ok := common(batch, func(e *tasks.Envelope) string { return e.Name }); ok {
		attrs = append(attrs, keyTask.String(task))
	}
	if queue, ok := common(batch, func(e *tasks.Envelope) string { return e.Queue }); ok {
		attrs = append(attrs, keyQueue.String(queue))
	}
	if server, ok := common(batch, func(e *tasks.Envelope) string { return e.Server }); ok {
		attrs = appendServer(attrs, server)
	}
	ctx, span := p.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()

	// Under a no-op send span every create span would be a no-op too: the
	// tasks then carry what ctx holds, baggage for one, and get no span.
	noop := isNoop(span)
	var creates []trace.Span
	if !noop {
		creates = make([]trace.Span, len(batch))
	}
	for i, env := range batch {
		if custom := p.custom(env); custom.IsValid() {
			span.AddLink(trace.Link{SpanContext: custom})
			continue
		}
		if noop {
			p.prop.Inject(ctx, HeaderCarrier(env.Header))
			continue
		}
		ss := p.createStart(env)
		cctx, cs := p.tracer.Start(ctx, ss.name, ss.opts...)
		if cs.IsRecording() {
			cs.SetAttributes(semconv.MessagingMessageID(env.ID))
		}
		p.prop.Inject(cctx, HeaderCarrier(env.Header))
		if span.IsRecording() {
			span.AddLink(trace.Link{SpanContext: cs.SpanContext()})
		}
		creates[i] = cs
	}
	errs := next(ctx, batch)
	failed := 0
	var first error
	for i, env := range batch {
		if errs[i] != nil {
			if failed == 0 {
				first = errs[i]
			}
			failed++
		}
		if i < len(creates) && creates[i] != nil {
			stored(creates[i], env, errs[i])
			creates[i].End()
		}
	}
	if failed > 0 && span.IsRecording() {
		span.RecordError(first)
		span.SetStatus(codes.Error, fmt.Sprintf("%d of %d tasks not enqueued: %v", failed, len(batch), first))
		span.SetAttributes(errorType(first))
	}
	return errs
}

// custom returns the trace context a task's header already carries, if any:
// one the caller put there on purpose, which is kept as it is.
// Without trace headers, extracting costs two map lookups.
func (p *producer) custom(env *tasks.Envelope) trace.SpanContext {
	return trace.SpanContextFromContext(p.prop.Extract(context.Background(), HeaderCarrier(env.Header)))
}

// messageAttrs are the attributes of a span about one task being sent.
func messageAttrs(env *tasks.Envelope, op string, opType attribute.KeyValue) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 9)
	attrs = append(attrs,
		systemNATS,
		semconv.MessagingOperationName(op),
		opType,
		semconv.MessagingDestinationName(env.Subject),
		semconv.MessagingMessageID(env.ID),
		keyTask.String(env.Name),
		keyQueue.String(env.Queue),
	)
	return appendServer(attrs, env.Server)
}

// stored records on span what became of env: where the server stored it, or
// why it did not.
func stored(span trace.Span, env *tasks.Envelope, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(errorType(err))
		return
	}
	span.SetAttributes(
		keyStream.String(env.Stream),
		keySequence.Int64(int64(env.Sequence)),
		keyDuplicate.Bool(env.Duplicate),
	)
}

// common returns the value f gives for every envelope of batch, if they agree.
func common(batch []*tasks.Envelope, f func(*tasks.Envelope) string) (string, bool) {
	v := f(batch[0])
	for _, env := range batch[1:] {
		if f(env) != v {
			return "", false
		}
	}
	return v, true
}
