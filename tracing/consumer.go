package tracing

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/tasks"
)

// Consumer returns the middleware that traces every delivery a worker
// processes, for consumer.WithMiddleware.
//
// Each delivery gets a "process <subject>" span of kind CONSUMER covering the
// handler and the settlement. By default it is the child of the producer's
// span found in the task's header, so enqueue, every attempt and the
// dead-lettering form one trace. If the worker's ctx holds a span, the
// process span links to it, as the messaging conventions ask of a process
// span parented on the creation context. Unlike the conventions' opt-in
// structure, it does not link to its parent as well: Jaeger makes a parent
// that is also linked a FOLLOWS_FROM reference, and tools that look for
// CHILD_OF then show every attempt as a root. [WithLinkOnly] makes it the
// child of the worker's ctx instead, linked to the producer's span; so does
// [ReplayHeader] in the header. Baggage from the header is put in the
// handler's ctx either way. The span has the server.address and server.port
// of the NATS server the task came from (tasks.Envelope.Server).
//
// The span is in the ctx the handler and the settlement run under, so spans
// the handler starts from its ctx nest under it. When next returns, the span
// records the settlement: jetq.outcome (ack, retry, dead_letter or release;
// none when the worker settled the delivery on its own, as it does with a
// handler that overran its timeout), jetq.retry.delay in seconds or
// jetq.dead_letter.reason, and an event named after the outcome, such as
// jetq.retry. A handler error is recorded as an exception event, with status
// Error and error.type. [DeadLetter], given to
// consumer.WithDeadLetterMiddleware, adds a child span timing the publish
// of a dead-lettered task's record.
//
// Metrics: messaging.client.consumed.messages counts deliveries,
// messaging.process.duration times them by jetq.outcome,
// jetq.task.wait.duration measures enqueue to start, jetq.task.active counts
// running tasks, and jetq.task.dead_lettered counts dead-lettered tasks by
// reason.
//
// Give it first to consumer.WithMiddleware, so that the other middleware run
// inside its span. The returned middleware is safe for concurrent use.
func Consumer(opts ...Option) tasks.Middleware {
	c := newConfig(opts)
	m := &processor{
		tracer:   c.tracer(),
		prop:     c.propagators,
		linkOnly: c.linkOnly,
		metrics:  newConsumerMetrics(c.meter()),
	}
	return func(next tasks.Handler) tasks.Handler {
		return func(ctx context.Context, env *tasks.Envelope) error {
			return m.process(ctx, env, next)
		}
	}
}

type processor struct {
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	linkOnly bool
	metrics  consumerMetrics
	starts   spanStarts
}

// spanStart is what every span of one kind about one subject and server
// starts with, worked out once: a worker or a producer sees one subject per
// task type, and one server per node of the cluster.
type spanStart struct {
	name string
	opts []trace.SpanStartOption
}

// startKey is what a spanStart depends on: a subject, and a server's
// host:port.
type startKey struct{ subject, server string }

// spanStarts holds the spanStart of each subject and server, made by the
// first task of the pair.
type spanStarts struct{ m sync.Map }

// get returns the spanStart of env's subject and server, making it with
// build the first time.
func (c *spanStarts) get(env *tasks.Envelope, build func() *spanStart) *spanStart {
	k := startKey{env.Subject, env.Server}
	if s, ok := c.m.Load(k); ok {
		return s.(*spanStart)
	}
	s := build()
	c.m.Store(k, s)
	return s
}

// isNoop reports whether span neither records nor has a context: a no-op
// tracer's, whose children would be no-ops as well. An SDK span always has a
// context, sampled or not.
func isNoop(span trace.Span) bool {
	return !span.IsRecording() && !span.SpanContext().IsValid()
}

func (m *processor) spanStart(env *tasks.Envelope) *spanStart {
	return m.starts.get(env, func() *spanStart {
		// Only the attributes the conventions mark as relevant for sampling
		// go in at the start; the rest are set only if the span records, so
		// a no-op provider costs little.
		attrs := []attribute.KeyValue{systemNATS, semconv.MessagingOperationName(opProcess),
			semconv.MessagingOperationTypeProcess, semconv.MessagingDestinationName(env.Subject)}
		return &spanStart{
			name: opProcess + " " + env.Subject,
			opts: []trace.SpanStartOption{
				trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(appendServer(attrs, env.Server)...),
			},
		}
	})
}

func (m *processor) process(ctx context.Context, env *tasks.Envelope, next tasks.Handler) error {
	parent, links, replayOf := m.parent(ctx, env)
	ss := m.spanStart(env)
	opts := ss.opts
	if len(links) > 0 {
		opts = append(slices.Clip(opts), trace.WithLinks(links...))
	}
	ctx, span := m.tracer.Start(parent, ss.name, opts...)
	if span.IsRecording() {
		span.SetAttributes(
			semconv.MessagingMessageID(env.ID),
			keyStream.String(env.Stream),
			keySequence.Int64(int64(env.Sequence)),
			keyDeliveries.Int(env.Attempt),
			keyTask.String(env.Name),
			keyQueue.String(env.Queue),
			keyAttempt.Int(env.Attempt),
			keyMaxAttempts.Int(env.MaxAttempts),
		)
		if env.Consumer != "" {
			span.SetAttributes(semconv.MessagingConsumerGroupName(env.Consumer))
		}
		if replayOf != "" {
			span.SetAttributes(keyReplayOf.String(replayOf))
		}
	}

	// The clock is read only for the metrics: a no-op meter costs no time.
	var start time.Time
	measure := m.metrics.enabled(ctx)
	if measure {
		start = time.Now()
		m.metrics.started(ctx, env, start)
	}

	err := next(ctx, env)

	o := env.Outcome
	if err == nil {
		err = o.Err
	}
	if span.IsRecording() {
		settled(span, o, err)
	}
	span.End()
	if measure {
		m.metrics.finished(ctx, env, err, time.Since(start))
	}
	return err
}

// parent returns the ctx to start the process span from, its links, and the
// dead-letter record a replayed task came from. The span links only to
// contexts that are not its parent.
func (m *processor) parent(ctx context.Context, env *tasks.Envelope) (context.Context, []trace.Link, string) {
	// Extract into an empty ctx: Extract leaves ctx as it is when the header
	// has no trace context, and the worker's ctx may hold a span of its own.
	ectx := m.prop.Extract(context.Background(), HeaderCarrier(env.Header))
	if b := baggage.FromContext(ectx); b.Len() > 0 {
		ctx = baggage.ContextWithBaggage(ctx, b)
	}
	replayOf := env.Header.Get(ReplayHeader)
	creation := trace.SpanContextFromContext(ectx)
	if !creation.IsValid() {
		return ctx, nil, replayOf
	}
	if m.linkOnly || replayOf != "" {
		return ctx, []trace.Link{{SpanContext: creation}}, replayOf
	}
	// The child of the creation context keeps the worker's own span as a
	// link. A link to the creation context too would make Jaeger read the
	// parent as FOLLOWS_FROM.
	var links []trace.Link
	if ambient := trace.SpanContextFromContext(ctx); ambient.IsValid() &&
		(ambient.TraceID() != creation.TraceID() || ambient.SpanID() != creation.SpanID()) {
		links = []trace.Link{{SpanContext: ambient}}
	}
	return trace.ContextWithRemoteSpanContext(ctx, creation), links, ""
}

// settled records on span the settlement o and the handler's error, if any.
func settled(span trace.Span, o tasks.Outcome, err error) {
	// One SetAttributes: the SDK grows the span's attributes on every call.
	attrs := make([]attribute.KeyValue, 1, 3)
	attrs[0] = keyOutcome.String(o.Action.String())
	switch o.Action {
	case tasks.ActionRetry, tasks.ActionSnooze:
		attrs = append(attrs, keyDelay.Float64(o.Delay.Seconds()))
	case tasks.ActionDeadLetter:
		attrs = append(attrs, keyReason.String(string(o.Reason)))
	}
	if o.Action != tasks.ActionNone {
		span.AddEvent("jetq."+o.Action.String(), trace.WithAttributes(attrs[1:]...))
	}
	// A snooze is no failure, nor is a cancel: the task did as it was told.
	if err != nil && o.Action != tasks.ActionSnooze && o.Action != tasks.ActionCancel {
		failed(span, err)
		attrs = append(attrs, errorType(err))
	}
	span.SetAttributes(attrs...)
}

// failed records err on span as an exception event, with the stack of a
// panic, and sets the span's status to Error.
func failed(span trace.Span, err error) {
	var opts []trace.EventOption
	var pe *tasks.PanicError
	if errors.As(err, &pe) {
		opts = append(opts, trace.WithAttributes(semconv.ExceptionStacktrace(string(pe.Stack))))
	}
	span.RecordError(err, opts...)
	span.SetStatus(codes.Error, err.Error())
}
