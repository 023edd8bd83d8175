package tracing_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
)

// byAttempt returns the process spans indexed by attempt, 1-based.
func byAttempt(t *testing.T, spans []sdktrace.ReadOnlySpan) map[int64]sdktrace.ReadOnlySpan {
	t.Helper()
	out := make(map[int64]sdktrace.ReadOnlySpan)
	for _, s := range spans {
		out[attrs(s)["jetq.task.attempt"].AsInt64()] = s
	}
	return out
}

// handlerSpans returns the spans the handler started, by the attempt they
// recorded.
func handlerSpans(spans []sdktrace.ReadOnlySpan) map[int64]sdktrace.ReadOnlySpan {
	out := make(map[int64]sdktrace.ReadOnlySpan)
	for _, s := range named(spans, "handler") {
		out[attrs(s)["attempt"].AsInt64()] = s
	}
	return out
}

func TestRetriedTaskIsOneTrace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("trace.retry", tasks.WithMaxAttempts(3), fast)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		_, span := b.tracer().Start(ctx, "handler", trace.WithAttributes(attribute.Int("attempt", tk.Attempt)))
		defer span.End()
		if tk.Attempt == 1 {
			return errors.New("flaky")
		}
		return nil
	})
	b.startWorker(t, reg)

	ctx, req := b.tracer().Start(context.Background(), "request")
	r, err := producer.Enqueue(ctx, b.p, def, Args{N: 1})
	req.End()
	if err != nil {
		t.Fatal(err)
	}
	const subject = "jetq.task.default.trace.retry"
	spans := b.waitSpans(t, countNamed("process "+subject, 2))

	send := sendInTrace(t, spans, req.SpanContext(), subject)
	checkAttrs(t, send, map[attribute.Key]any{
		"messaging.system":               "nats",
		"messaging.operation.name":       "send",
		"messaging.operation.type":       "send",
		"messaging.destination.name":     subject,
		"messaging.message.id":           r.ID,
		"jetq.task.name":                 "trace.retry",
		"jetq.task.queue":                "default",
		"messaging.nats.stream":          "JETQ_TASKS",
		"messaging.nats.stream.sequence": r.Sequence,
		"messaging.nats.duplicate":       false,
	})
	server := b.serverAttrs(t)
	checkAttrs(t, send, server)
	if _, ok := attrs(send)[semconv.MessagingBatchMessageCountKey]; ok {
		t.Error("send of one task has messaging.batch.message_count")
	}

	procs := byAttempt(t, named(spans, "process "+subject))
	handlers := handlerSpans(spans)
	for attempt, want := range map[int64]struct {
		outcome string
		status  codes.Code
		event   string
	}{
		1: {"retry", codes.Error, "jetq.retry"},
		2: {"ack", codes.Unset, "jetq.ack"},
	} {
		p := procs[attempt]
		if p == nil {
			t.Fatalf("no process span for attempt %d", attempt)
		}
		checkParent(t, p, send.SpanContext())
		// A link to its parent as well would make Jaeger show the attempt
		// as FOLLOWS_FROM the send span, not its child.
		checkLinks(t, p)
		checkAttrs(t, p, server)
		if p.SpanKind() != trace.SpanKindConsumer {
			t.Errorf("attempt %d: kind %v, want consumer", attempt, p.SpanKind())
		}
		checkAttrs(t, p, map[attribute.Key]any{
			"messaging.system":               "nats",
			"messaging.operation.name":       "process",
			"messaging.operation.type":       "process",
			"messaging.destination.name":     subject,
			"messaging.message.id":           r.ID,
			"messaging.consumer.group.name":  "default:trace:retry",
			"messaging.nats.stream":          "JETQ_TASKS",
			"messaging.nats.stream.sequence": r.Sequence,
			"messaging.nats.delivery_count":  attempt,
			"jetq.task.attempt":              attempt,
			"jetq.task.max_attempts":         3,
			"jetq.outcome":                   want.outcome,
		})
		if got := p.Status().Code; got != want.status {
			t.Errorf("attempt %d: status %v, want %v", attempt, got, want.status)
		}
		if !hasEvent(p, want.event) {
			t.Errorf("attempt %d: no %s event", attempt, want.event)
		}
		h := handlers[attempt]
		if h == nil {
			t.Fatalf("no handler span for attempt %d", attempt)
		}
		checkParent(t, h, p.SpanContext())
	}
	first := attrs(procs[1])
	if d := first["jetq.retry.delay"].AsFloat64(); d < 0.02 || d > 1 {
		t.Errorf("attempt 1: jetq.retry.delay %v s, want 0.02", d)
	}
	if got := first[semconv.ErrorTypeKey].AsString(); got != "*errors.errorString" {
		t.Errorf("attempt 1: error.type %q, want *errors.errorString", got)
	}
	if !hasEvent(procs[1], "exception") {
		t.Error("attempt 1: the handler's error is not recorded")
	}
}

func TestDeadLetteredTaskIsOneTrace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("trace.dead", tasks.WithMaxAttempts(3), fast)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		_, span := b.tracer().Start(ctx, "handler", trace.WithAttributes(attribute.Int("attempt", tk.Attempt)))
		defer span.End()
		return fmt.Errorf("broken %d", tk.Attempt)
	})
	b.startWorker(t, reg)

	r, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	const subject = "jetq.task.default.trace.dead"
	const dlqSubject = "jetq.dlq.default.trace.dead"
	// The record's send span ends inside the last attempt's process span,
	// which ends after it: wait for both.
	spans := b.waitSpans(t, func(spans []sdktrace.ReadOnlySpan) error {
		return cmp.Or(countNamed("send "+dlqSubject, 1)(spans), countNamed("process "+subject, 3)(spans))
	})

	send := one(t, spans, "send "+subject)
	if send.Parent().IsValid() {
		t.Errorf("send: parent %v, want a root span", send.Parent())
	}
	procs := byAttempt(t, named(spans, "process "+subject))
	if len(procs) != 3 {
		t.Fatalf("process spans: got %d, want 3", len(procs))
	}
	handlers := handlerSpans(spans)
	for attempt := int64(1); attempt <= 3; attempt++ {
		p := procs[attempt]
		checkParent(t, p, send.SpanContext())
		checkLinks(t, p)
		checkParent(t, handlers[attempt], p.SpanContext())
		outcome := "retry"
		if attempt == 3 {
			outcome = "dead_letter"
		}
		checkAttrs(t, p, map[attribute.Key]any{"jetq.outcome": outcome})
		if p.Status().Code != codes.Error {
			t.Errorf("attempt %d: status %v, want error", attempt, p.Status().Code)
		}
	}
	last := procs[3]
	checkAttrs(t, last, map[attribute.Key]any{"jetq.dead_letter.reason": "max_attempts"})
	if !hasEvent(last, "jetq.dead_letter") {
		t.Error("last attempt: no jetq.dead_letter event")
	}

	dl := one(t, spans, "send "+dlqSubject)
	checkParent(t, dl, last.SpanContext())
	if dl.SpanKind() != trace.SpanKindProducer {
		t.Errorf("dead-letter span: kind %v, want producer", dl.SpanKind())
	}
	checkAttrs(t, dl, map[attribute.Key]any{
		"messaging.system":           "nats",
		"messaging.operation.type":   "send",
		"messaging.destination.name": dlqSubject,
		"jetq.dead_letter.reason":    "max_attempts",
	})
	checkAttrs(t, dl, b.serverAttrs(t))
	// The record's ID: "<stream>:<seq>:<stored at>".
	for _, kv := range dl.Attributes() {
		if want := fmt.Sprintf("JETQ_TASKS:%d:", r.Sequence); kv.Key == "messaging.message.id" && !strings.HasPrefix(kv.Value.AsString(), want) {
			t.Errorf("dead-letter span: messaging.message.id = %s, want %s and the stored time", kv.Value.AsString(), want)
		}
	}
	for _, s := range spans {
		if s.SpanContext().TraceID() != send.SpanContext().TraceID() {
			t.Errorf("span %q is in another trace", s.Name())
		}
	}

	// The record keeps the task's trace context, for a replay to link to.
	stream, err := b.js.Stream(context.Background(), "JETQ_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := stream.GetLastMsgForSubject(context.Background(), dlqSubject)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("00-%s-%s-01", send.SpanContext().TraceID(), send.SpanContext().SpanID())
	if got := rec.Header.Get("traceparent"); got != want {
		t.Errorf("dead-letter record traceparent %q, want %q", got, want)
	}
}

func TestBatchHasCreateSpanPerTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("trace.batch")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error { return nil })
	b.startWorker(t, reg)

	const n = 3
	rs, err := producer.EnqueueBatch(context.Background(), b.p, def, []Args{{1}, {2}, {3}})
	if err != nil {
		t.Fatal(err)
	}
	const subject = "jetq.task.default.trace.batch"
	spans := b.waitSpans(t, countNamed("process "+subject, n))

	send := one(t, spans, "send "+subject)
	if send.SpanKind() != trace.SpanKindClient {
		t.Errorf("batch send: kind %v, want client", send.SpanKind())
	}
	checkAttrs(t, send, map[attribute.Key]any{
		"messaging.system":              "nats",
		"messaging.operation.type":      "send",
		"messaging.destination.name":    subject,
		"messaging.batch.message_count": n,
		"jetq.task.name":                "trace.batch",
	})
	server := b.serverAttrs(t)
	checkAttrs(t, send, server)
	creates := map[string]sdktrace.ReadOnlySpan{}
	for _, c := range named(spans, "create "+subject) {
		creates[attrs(c)["messaging.message.id"].AsString()] = c
	}
	if len(creates) != n {
		t.Fatalf("create spans: got %d, want %d", len(creates), n)
	}
	for _, r := range rs {
		c := creates[r.ID]
		if c == nil {
			t.Fatalf("no create span for task %s", r.ID)
		}
		if c.SpanKind() != trace.SpanKindProducer {
			t.Errorf("create: kind %v, want producer", c.SpanKind())
		}
		checkParent(t, c, send.SpanContext())
		if !hasLink(send, c.SpanContext()) {
			t.Errorf("batch send does not link to the create span of %s", r.ID)
		}
		checkAttrs(t, c, map[attribute.Key]any{
			"messaging.operation.name":       "create",
			"messaging.operation.type":       "create",
			"messaging.nats.stream.sequence": r.Sequence,
		})
		checkAttrs(t, c, server)
	}
	for _, p := range named(spans, "process "+subject) {
		c := creates[attrs(p)["messaging.message.id"].AsString()]
		if c == nil {
			t.Fatalf("process span of an unknown task")
		}
		checkParent(t, p, c.SpanContext())
		checkLinks(t, p)
	}
}

func TestLinkOnlyStartsTraceOfItsOwn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("trace.linked")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error { return nil })
	b.startWorker(t, reg, tracing.WithLinkOnly())

	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	const subject = "jetq.task.default.trace.linked"
	spans := b.waitSpans(t, countNamed("process "+subject, 1))
	send, p := one(t, spans, "send "+subject), one(t, spans, "process "+subject)
	if p.Parent().IsValid() {
		t.Errorf("process: parent %v, want none", p.Parent())
	}
	if p.SpanContext().TraceID() == send.SpanContext().TraceID() {
		t.Error("process span is in the producer's trace")
	}
	checkLinks(t, p, send.SpanContext())
}

// A task published by another client, with nothing but a traceparent
// header, is processed in the publisher's trace.
func TestNonGoPublisherTraceIsJoined(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("trace.foreign")
	reg := tasks.NewRegistry()
	tenant := make(chan string, 1)
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		tenant <- baggage.FromContext(ctx).Member("tenant").Value()
		return nil
	})
	if err := b.p.Provision(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.startWorker(t, reg)

	traceID, spanID := fixedHex(16, 0x10), fixedHex(8, 0xa0)
	msg := nats.NewMsg("jetq.task.default.trace.foreign")
	msg.Header.Set("traceparent", "00-"+traceID+"-"+spanID+"-01")
	msg.Header.Set("baggage", "tenant=acme")
	msg.Data = []byte(`{"n":7}`)
	if _, err := b.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	spans := b.waitSpans(t, countNamed("process jetq.task.default.trace.foreign", 1))
	p := spans[0]
	if got := p.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("trace ID %s, want %s", got, traceID)
	}
	if got := p.Parent().SpanID().String(); got != spanID {
		t.Errorf("parent span ID %s, want %s", got, spanID)
	}
	if !p.Parent().IsRemote() {
		t.Error("parent is not remote")
	}
	checkLinks(t, p)
	if got := <-tenant; got != "acme" {
		t.Errorf("handler's baggage tenant=%q, want acme", got)
	}
}

// A task replayed from the dead-letter stream keeps the original trace
// context; its processing starts a trace of its own, linked to the original.
func TestReplayLinksToOriginalTrace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("trace.replay")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error { return nil })
	if err := b.p.Provision(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.startWorker(t, reg)

	traceID, spanID := fixedHex(16, 0x30), fixedHex(8, 0xb0)
	msg := nats.NewMsg("jetq.task.default.trace.replay")
	msg.Header.Set("traceparent", "00-"+traceID+"-"+spanID+"-01")
	msg.Header.Set(tracing.ReplayHeader, "JETQ_TASKS:42")
	msg.Data = []byte(`{"n":7}`)
	if _, err := b.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	spans := b.waitSpans(t, countNamed("process jetq.task.default.trace.replay", 1))
	p := spans[0]
	if p.Parent().IsValid() {
		t.Errorf("parent %v, want none", p.Parent())
	}
	if p.SpanContext().TraceID().String() == traceID {
		t.Error("the replay is processed in the original trace")
	}
	var linked bool
	for _, l := range p.Links() {
		linked = linked || (l.SpanContext.TraceID().String() == traceID && l.SpanContext.SpanID().String() == spanID)
	}
	if !linked {
		t.Errorf("links %v do not reach the original span", p.Links())
	}
	checkAttrs(t, p, map[attribute.Key]any{"jetq.replay_of": "JETQ_TASKS:42"})
}

// A trace context the caller put in the header is the task's creation
// context: it is kept, and the send span links to it.
func TestCallersTraceContextIsKept(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("trace.custom")
	traceparent := "00-" + fixedHex(16, 0x50) + "-" + fixedHex(8, 0xc0) + "-01"
	r, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}, producer.WithHeader("traceparent", traceparent))
	if err != nil {
		t.Fatal(err)
	}
	send := one(t, b.spans.Ended(), "send jetq.task.default.trace.custom")
	if send.SpanKind() != trace.SpanKindClient {
		t.Errorf("send: kind %v, want client: its context is not the creation context", send.SpanKind())
	}
	if len(send.Links()) != 1 || send.Links()[0].SpanContext.SpanID().String() != fixedHex(8, 0xc0) {
		t.Errorf("send: links %v, want one to the caller's context", send.Links())
	}
	stream, err := b.js.Stream(context.Background(), "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.GetMsg(context.Background(), r.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get("traceparent"); got != traceparent {
		t.Errorf("stored traceparent %q, want the caller's %q", got, traceparent)
	}
}

// When processing runs inside another span, the process span is still the
// child of the creation context and links to that ambient span, only.
func TestAmbientSpanIsLinked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("trace.ambient")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error { return nil })
	ambient := make(chan trace.SpanContext, 1)
	outer := func(next tasks.Handler) tasks.Handler {
		return func(ctx context.Context, env *tasks.Envelope) error {
			ctx, span := b.tracer().Start(ctx, "outer")
			defer span.End()
			ambient <- span.SpanContext()
			return next(ctx, env)
		}
	}
	jetqtest.StartWorker(t, b.srv, reg,
		consumer.WithMiddleware(outer, tracing.Consumer(b.options()...)),
		consumer.WithDeadLetterMiddleware(tracing.DeadLetter(b.options()...)))
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	spans := b.waitSpans(t, countNamed("process jetq.task.default.trace.ambient", 1))
	send, p := one(t, spans, "send jetq.task.default.trace.ambient"), one(t, spans, "process jetq.task.default.trace.ambient")
	checkParent(t, p, send.SpanContext())
	checkLinks(t, p, <-ambient)
}
