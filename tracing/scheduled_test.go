package tracing_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/internal/testkit"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// checkNoScheduleSubjects fails the test if a span name or the destination
// of a span or metric point is a schedule or fire subject rather than the
// task subject: those are per task (jetq.sched.at.<id>) or not what a worker
// consumes, and would break the per-task-type names and attribute sets.
func checkNoScheduleSubjects(t *testing.T, b *bundle, rm metricdata.ResourceMetrics) {
	t.Helper()
	for _, s := range append(names(b.spans.Ended()), destinations(b, rm)...) {
		if strings.Contains(s, "jetq.sched.") || strings.Contains(s, "jetq.fire.") {
			t.Errorf("%q names a schedule subject, want the task subject", s)
		}
	}
}

// destinations returns every messaging.destination.name of the spans and of
// the metric points recorded.
func destinations(b *bundle, rm metricdata.ResourceMetrics) []string {
	var out []string
	for _, s := range b.spans.Ended() {
		if v, ok := attrs(s)["messaging.destination.name"]; ok {
			out = append(out, v.AsString())
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, p := range points(rm, m.Name) {
				if v, ok := p.attrs.Value("messaging.destination.name"); ok {
					out = append(out, v.AsString())
				}
			}
		}
	}
	return out
}

// A delayed task waits in the schedule stream and comes back through the
// work stream; its trace and its names stay those of an immediate task.
func TestDelayedTaskIsOneTrace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("trace.delayed")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		_, span := b.tracer().Start(ctx, "handler", trace.WithAttributes(attribute.Int("attempt", tk.Attempt)))
		defer span.End()
		return nil
	})
	b.startWorker(t, reg)

	const delay = time.Second
	ctx, req := b.tracer().Start(context.Background(), "request")
	enqueued := time.Now()
	r, err := producer.Enqueue(ctx, b.p, def, Args{N: 1}, producer.WithDelay(delay))
	req.End()
	if err != nil {
		t.Fatal(err)
	}
	if r.Stream != "JETQ_SCHEDULES" {
		t.Fatalf("delayed task stored by %s, want JETQ_SCHEDULES", r.Stream)
	}
	const subject = "jetq.task.default.trace.delayed"
	spans := b.waitSpans(t, countNamed("process "+subject, 1))

	send := sendInTrace(t, spans, req.SpanContext(), subject)
	checkAttrs(t, send, map[attribute.Key]any{
		"messaging.system":               "nats",
		"messaging.operation.name":       "send",
		"messaging.operation.type":       "send",
		"messaging.destination.name":     subject,
		"messaging.message.id":           r.ID,
		"jetq.task.name":                 "trace.delayed",
		"jetq.task.queue":                "default",
		"messaging.nats.stream":          "JETQ_SCHEDULES",
		"messaging.nats.stream.sequence": r.Sequence,
		"messaging.nats.duplicate":       false,
	})

	p := one(t, spans, "process "+subject)
	checkParent(t, p, send.SpanContext())
	checkLinks(t, p)
	if p.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("process: kind %v, want consumer", p.SpanKind())
	}
	checkAttrs(t, p, map[attribute.Key]any{
		"messaging.system":              "nats",
		"messaging.operation.name":      "process",
		"messaging.operation.type":      "process",
		"messaging.destination.name":    subject,
		"messaging.message.id":          r.ID,
		"messaging.consumer.group.name": "default:trace:delayed",
		"messaging.nats.stream":         "JETQ_TASKS",
		"messaging.nats.delivery_count": 1,
		"jetq.task.attempt":             1,
		"jetq.outcome":                  "ack",
	})
	if got := p.Status().Code; got != codes.Unset {
		t.Errorf("process: status %v, want unset", got)
	}
	if !hasEvent(p, "jetq.ack") {
		t.Error("process: no jetq.ack event")
	}
	// Started when due, not at once: the task went through the schedule.
	if early := enqueued.Add(delay).Sub(p.StartTime()); early > 100*time.Millisecond {
		t.Errorf("processed %v before it was due", early)
	}
	h := one(t, spans, "handler")
	checkParent(t, h, p.SpanContext())

	task := attribute.String("jetq.task.name", "trace.delayed")
	dest := attribute.String("messaging.destination.name", subject)
	var rm metricdata.ResourceMetrics
	testkit.WaitFor(t, 10*time.Second, func() error {
		rm = b.collect(t)
		if got := total(rm, "messaging.process.duration", task); got != 1 {
			return fmt.Errorf("processed deliveries: got %v, want 1", got)
		}
		return nil
	})
	for _, tc := range []struct {
		metric string
		match  []attribute.KeyValue
	}{
		{"messaging.client.sent.messages", []attribute.KeyValue{task, dest, attribute.String("jetq.task.queue", "default")}},
		{"messaging.client.consumed.messages", []attribute.KeyValue{task, dest}},
		{"messaging.process.duration", []attribute.KeyValue{task, dest, attribute.String("jetq.outcome", "ack")}},
	} {
		if got := total(rm, tc.metric, tc.match...); got != 1 {
			t.Errorf("%s %v: got %v, want 1", tc.metric, tc.match, got)
		}
	}
	checkNoScheduleSubjects(t, b, rm)
}

// A task picked up after its deadline is settled unrun: its delivery is
// traced and counted with the outcome expire.
func TestExpiredTaskIsTracedAndCounted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("trace.expired", tasks.WithExpiry(time.Second))
	var ran atomic.Int32
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		ran.Add(1)
		_, span := b.tracer().Start(ctx, "handler", trace.WithAttributes(attribute.Int("attempt", tk.Attempt)))
		defer span.End()
		return nil
	})

	r, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // past the task's deadline, with no worker
	b.startWorker(t, reg)

	const subject = "jetq.task.default.trace.expired"
	spans := b.waitSpans(t, countNamed("process "+subject, 1))
	send, p := one(t, spans, "send "+subject), one(t, spans, "process "+subject)
	checkParent(t, p, send.SpanContext())
	checkAttrs(t, p, map[attribute.Key]any{
		"messaging.message.id":           r.ID,
		"messaging.nats.stream":          "JETQ_TASKS",
		"messaging.nats.stream.sequence": r.Sequence,
		"jetq.task.attempt":              1,
		"jetq.outcome":                   "expire",
	})
	if !hasEvent(p, "jetq.expire") {
		t.Error("process: no jetq.expire event")
	}
	if hasEvent(p, "exception") || p.Status().Code != codes.Unset {
		t.Errorf("process: status %v, events %v; an expiry is not a failure", p.Status().Code, p.Events())
	}
	if _, ok := attrs(p)["error.type"]; ok {
		t.Error("process: expiry has error.type")
	}

	task := attribute.String("jetq.task.name", "trace.expired")
	var rm metricdata.ResourceMetrics
	testkit.WaitFor(t, 10*time.Second, func() error {
		rm = b.collect(t)
		if got := total(rm, "messaging.process.duration", task); got != 1 {
			return fmt.Errorf("processed deliveries: got %v, want 1", got)
		}
		return nil
	})
	for _, tc := range []struct {
		metric string
		match  []attribute.KeyValue
		want   float64
	}{
		{"messaging.client.consumed.messages", []attribute.KeyValue{task,
			attribute.String("messaging.destination.name", subject),
			attribute.String("messaging.consumer.group.name", "default:trace:expired")}, 1},
		{"messaging.process.duration", []attribute.KeyValue{task, attribute.String("jetq.outcome", "expire")}, 1},
		{"messaging.process.duration", []attribute.KeyValue{task, attribute.String("jetq.outcome", "ack")}, 0},
		{"jetq.task.dead_lettered", []attribute.KeyValue{task}, 0},
		{"jetq.task.active", []attribute.KeyValue{task}, 0},
	} {
		if got := total(rm, tc.metric, tc.match...); got != tc.want {
			t.Errorf("%s %v: got %v, want %v", tc.metric, tc.match, got, tc.want)
		}
	}
	for _, pt := range points(rm, "messaging.process.duration") {
		if pt.attrs.HasValue("error.type") {
			t.Errorf("messaging.process.duration of the expiry has error.type: %v", pt.attrs.Encoded(attribute.DefaultEncoder()))
		}
	}

	time.Sleep(300 * time.Millisecond) // room for a run, were there one
	if n := ran.Load(); n != 0 {
		t.Errorf("the handler of the expired task ran %d times", n)
	}
	if hs := named(b.spans.Ended(), "handler"); len(hs) != 0 {
		t.Errorf("%d handler spans, want none", len(hs))
	}
	if got := len(named(b.spans.Ended(), "process "+subject)); got != 1 {
		t.Errorf("process spans: got %d, want 1", got)
	}
}
