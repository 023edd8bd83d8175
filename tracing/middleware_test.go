package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
)

// unit is a tracer and meter for tests of the middlewares without a server.
type unit struct {
	spans   *tracetest.SpanRecorder
	metrics *sdkmetric.ManualReader
	opts    []tracing.Option
}

func newUnit(t *testing.T) *unit {
	u := &unit{spans: tracetest.NewSpanRecorder(), metrics: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(u.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(u.metrics))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	u.opts = []tracing.Option{tracing.WithTracerProvider(tp), tracing.WithMeterProvider(mp), tracing.WithPropagators(propagators)}
	return u
}

func (u *unit) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := u.metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

func envelope(id string) *tasks.Envelope {
	return &tasks.Envelope{
		ID: id, Name: "unit.task", Queue: "default", Subject: "jetq.task.default.unit.task",
		Header: tasks.Header{}, EnqueuedAt: time.Now(),
	}
}

func TestProducerRecordsFailedEnqueues(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name       string
		batch      int
		failed     map[int]bool
		wantStatus codes.Code // of the send span
	}{
		{"one failed", 1, map[int]bool{0: true}, codes.Error},
		{"one of two failed", 2, map[int]bool{1: true}, codes.Error},
		{"two stored", 2, nil, codes.Unset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUnit(t)
			enqueue := tracing.Producer(u.opts...)(func(ctx context.Context, batch []*tasks.Envelope) []error {
				errs := make([]error, len(batch))
				for i, env := range batch {
					if env.Header.Get("traceparent") == "" {
						t.Errorf("task %d published without traceparent", i)
					}
					if tc.failed[i] {
						errs[i] = boom
						continue
					}
					env.Stream, env.Sequence = "JETQ_TASKS", uint64(i+1)
				}
				return errs
			})
			batch := make([]*tasks.Envelope, tc.batch)
			for i := range batch {
				batch[i] = envelope(string(rune('a' + i))) // task i has ID 'a'+i
			}
			errs := enqueue(context.Background(), batch)
			for i := range batch {
				if got, want := errs[i] != nil, tc.failed[i]; got != want {
					t.Errorf("task %d: failed %v, want %v", i, got, want)
				}
			}
			spans := u.spans.Ended()
			send := one(t, spans, "send jetq.task.default.unit.task")
			if got := send.Status().Code; got != tc.wantStatus {
				t.Errorf("send status %v, want %v", got, tc.wantStatus)
			}
			// The per-task span is the send span for one task, a create span in a batch.
			perTask := []sdktrace.ReadOnlySpan{send}
			if tc.batch > 1 {
				perTask = named(spans, "create jetq.task.default.unit.task")
			}
			for _, s := range perTask {
				a := attrs(s)
				failed := tc.failed[int(a["messaging.message.id"].AsString()[0]-'a')]
				_, hasSeq := a["messaging.nats.stream.sequence"]
				if failed && (s.Status().Code != codes.Error || a["error.type"].AsString() != "*errors.errorString" || hasSeq) {
					t.Errorf("failed task's span: status %v, attributes %v", s.Status(), s.Attributes())
				}
				if !failed && (s.Status().Code != codes.Unset || !hasSeq) {
					t.Errorf("stored task's span: status %v, attributes %v", s.Status(), s.Attributes())
				}
			}
			rm := u.collect(t)
			if got, want := total(rm, "messaging.client.sent.messages"), float64(tc.batch); got != want {
				t.Errorf("sent messages: got %v, want %v", got, want)
			}
			if got, want := total(rm, "messaging.client.sent.messages", attribute.String("error.type", "*errors.errorString")), float64(len(tc.failed)); got != want {
				t.Errorf("sent messages with error.type: got %v, want %v", got, want)
			}
		})
	}
}

func TestConsumerRecordsOutcomes(t *testing.T) {
	t.Parallel()
	panicErr := &tasks.PanicError{Value: "nil map", Stack: []byte("goroutine 7 [running]:\nmain.handler()")}
	for _, tc := range []struct {
		name      string
		outcome   tasks.Outcome
		err       error
		want      map[attribute.Key]any
		event     string
		status    codes.Code
		stack     bool
		deadSpans int
	}{
		{"ack", tasks.Outcome{Action: tasks.ActionAck}, nil,
			map[attribute.Key]any{"jetq.outcome": "ack"}, "jetq.ack", codes.Unset, false, 0},
		{"retry after panic", tasks.Outcome{Action: tasks.ActionRetry, Delay: 1500 * time.Millisecond, Err: panicErr}, panicErr,
			map[attribute.Key]any{"jetq.outcome": "retry", "jetq.retry.delay": 1.5, "error.type": "panic"}, "jetq.retry", codes.Error, true, 0},
		{"permanent", tasks.Outcome{Action: tasks.ActionDeadLetter, Reason: tasks.ReasonPermanent}, tasks.Permanent(errors.New("no such mailbox")),
			map[attribute.Key]any{"jetq.outcome": "dead_letter", "jetq.dead_letter.reason": "permanent", "error.type": "permanent"}, "jetq.dead_letter", codes.Error, false, 1},
		{"snooze, no failure", tasks.Outcome{Action: tasks.ActionSnooze, Delay: 2 * time.Second}, tasks.Snooze(2 * time.Second),
			map[attribute.Key]any{"jetq.outcome": "snooze", "jetq.retry.delay": 2.0}, "jetq.snooze", codes.Unset, false, 0},
		{"cancel, no failure", tasks.Outcome{Action: tasks.ActionCancel, Err: tasks.ErrCancelled}, fmt.Errorf("stopped: %w", tasks.ErrCancelled),
			map[attribute.Key]any{"jetq.outcome": "cancel"}, "jetq.cancel", codes.Unset, false, 0},
		{"release", tasks.Outcome{Action: tasks.ActionRelease}, context.Canceled,
			map[attribute.Key]any{"jetq.outcome": "release", "error.type": "canceled"}, "jetq.release", codes.Error, false, 0},
		{"settled by the worker", tasks.Outcome{}, nil,
			map[attribute.Key]any{"jetq.outcome": "none"}, "", codes.Unset, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUnit(t)
			h := tracing.Consumer(u.opts...)(func(ctx context.Context, env *tasks.Envelope) error {
				env.Outcome = tc.outcome
				if tc.outcome.Action == tasks.ActionDeadLetter {
					// As the worker does: file the record through the
					// dead-letter middleware, under the handler's ctx.
					mw := tracing.DeadLetter(u.opts...)
					rec := &tasks.Envelope{Subject: "jetq.dlq.default.unit.task", ID: "JETQ_TASKS:9", Name: env.Name, Queue: env.Queue, Outcome: tc.outcome}
					mw(func(_ context.Context, batch []*tasks.Envelope) []error {
						batch[0].Stream, batch[0].Sequence = "JETQ_DLQ", 1
						return []error{nil}
					})(ctx, []*tasks.Envelope{rec})
				}
				return tc.err
			})
			env := envelope("t-1")
			env.Attempt, env.MaxAttempts, env.Stream, env.Sequence, env.Consumer = 2, 5, "JETQ_TASKS", 9, "default:unit:task"
			if err := h(context.Background(), env); !errors.Is(err, tc.err) {
				t.Errorf("middleware returned %v, want %v", err, tc.err)
			}
			spans := u.spans.Ended()
			p := one(t, spans, "process jetq.task.default.unit.task")
			checkAttrs(t, p, tc.want)
			if got := p.Status().Code; got != tc.status {
				t.Errorf("status %v, want %v", got, tc.status)
			}
			if tc.event != "" && !hasEvent(p, tc.event) {
				t.Errorf("no %s event", tc.event)
			}
			var stack bool
			for _, e := range p.Events() {
				for _, kv := range e.Attributes {
					stack = stack || kv.Key == "exception.stacktrace" && kv.Value.AsString() == string(panicErr.Stack)
				}
			}
			if stack != tc.stack {
				t.Errorf("exception.stacktrace recorded: %v, want %v", stack, tc.stack)
			}
			if got := len(named(spans, "send jetq.dlq.default.unit.task")); got != tc.deadSpans {
				t.Errorf("dead-letter spans: got %d, want %d", got, tc.deadSpans)
			}
			rm := u.collect(t)
			if got := total(rm, "jetq.task.active"); got != 0 {
				t.Errorf("active tasks after return: %v, want 0", got)
			}
			if got := total(rm, "messaging.process.duration", attribute.String("jetq.outcome", tc.outcome.Action.String())); got != 1 {
				t.Errorf("process.duration points for %s: got %v, want 1", tc.outcome.Action, got)
			}
			if got, want := total(rm, "jetq.task.dead_lettered"), float64(tc.deadSpans); got != want {
				t.Errorf("dead-lettered: got %v, want %v", got, want)
			}
		})
	}
}

// spanContext makes the context of a span that is not recorded here: a
// producer's or a worker's elsewhere.
func spanContext(t *testing.T, seed byte) trace.SpanContext {
	t.Helper()
	traceID, err := trace.TraceIDFromHex(fixedHex(16, seed))
	if err != nil {
		t.Fatal(err)
	}
	spanID, err := trace.SpanIDFromHex(fixedHex(8, seed+0x40))
	if err != nil {
		t.Fatal(err)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, Remote: true})
}

// A process span links only to what is not its parent: Jaeger turns a link
// to the parent into a FOLLOWS_FROM reference, and the attempt then shows as
// a root.
func TestProcessSpanLinksOnlyWhatIsNotItsParent(t *testing.T) {
	t.Parallel()
	creation, ambient := spanContext(t, 0x10), spanContext(t, 0x20)
	none := trace.SpanContext{}
	for _, tc := range []struct {
		name       string
		linkOnly   bool
		replay     bool
		ambient    bool
		wantParent trace.SpanContext
		wantLinks  []trace.SpanContext
	}{
		{name: "child", wantParent: creation},
		{name: "child inside an ambient span", ambient: true, wantParent: creation, wantLinks: []trace.SpanContext{ambient}},
		{name: "link only", linkOnly: true, wantParent: none, wantLinks: []trace.SpanContext{creation}},
		{name: "link only inside an ambient span", linkOnly: true, ambient: true, wantParent: ambient, wantLinks: []trace.SpanContext{creation}},
		{name: "replay", replay: true, wantParent: none, wantLinks: []trace.SpanContext{creation}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUnit(t)
			opts := u.opts
			if tc.linkOnly {
				opts = append(opts[:len(opts):len(opts)], tracing.WithLinkOnly())
			}
			h := tracing.Consumer(opts...)(func(context.Context, *tasks.Envelope) error { return nil })
			env := envelope("t-1")
			env.Header.Set("traceparent", "00-"+creation.TraceID().String()+"-"+creation.SpanID().String()+"-01")
			if tc.replay {
				env.Header.Set(tracing.ReplayHeader, "JETQ_TASKS:7")
			}
			ctx := context.Background()
			if tc.ambient {
				ctx = trace.ContextWithSpanContext(ctx, ambient)
			}
			if err := h(ctx, env); err != nil {
				t.Fatal(err)
			}
			p := one(t, u.spans.Ended(), "process jetq.task.default.unit.task")
			if got := p.Parent(); got.TraceID() != tc.wantParent.TraceID() || got.SpanID() != tc.wantParent.SpanID() {
				t.Errorf("parent %s/%s, want %s/%s", got.TraceID(), got.SpanID(), tc.wantParent.TraceID(), tc.wantParent.SpanID())
			}
			checkLinks(t, p, tc.wantLinks...)
		})
	}
}

// Every messaging span names the NATS server it talked to, from the
// envelope's host:port.
func TestSpansCarryServerAddress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		server string
		want   map[attribute.Key]any // nil: neither attribute
	}{
		{"10.1.2.80:4222", map[attribute.Key]any{"server.address": "10.1.2.80", "server.port": 4222}},
		{"[::1]:4223", map[attribute.Key]any{"server.address": "::1", "server.port": 4223}},
		{"", nil},
	} {
		t.Run(tc.server, func(t *testing.T) {
			t.Parallel()
			u := newUnit(t)
			stored := func(_ context.Context, batch []*tasks.Envelope) []error { return make([]error, len(batch)) }
			enqueue := tracing.Producer(u.opts...)(stored)
			one := envelope("a")
			one.Server = tc.server
			two := []*tasks.Envelope{envelope("b"), envelope("c")}
			for _, env := range two {
				env.Server = tc.server
			}
			enqueue(context.Background(), []*tasks.Envelope{one})
			enqueue(context.Background(), two)

			process := tracing.Consumer(u.opts...)(func(ctx context.Context, env *tasks.Envelope) error {
				rec := &tasks.Envelope{Subject: "jetq.dlq.default.unit.task", ID: "JETQ_TASKS:9", Name: env.Name,
					Queue: env.Queue, Server: env.Server, Outcome: tasks.Outcome{Action: tasks.ActionDeadLetter, Reason: tasks.ReasonPermanent}}
				tracing.DeadLetter(u.opts...)(stored)(ctx, []*tasks.Envelope{rec})
				return nil
			})
			env := envelope("a")
			env.Server = tc.server
			if err := process(context.Background(), env); err != nil {
				t.Fatal(err)
			}

			spans := u.spans.Ended()
			if got := len(spans); got != 6 {
				t.Fatalf("spans %v, want 2 send, 2 create, process and dead-letter send", names(spans))
			}
			for _, s := range spans {
				a := attrs(s)
				if tc.want == nil {
					if _, ok := a["server.address"]; ok {
						t.Errorf("span %q: server.address %v, want none", s.Name(), a["server.address"])
					}
					if _, ok := a["server.port"]; ok {
						t.Errorf("span %q: server.port %v, want none", s.Name(), a["server.port"])
					}
					continue
				}
				checkAttrs(t, s, tc.want)
			}
		})
	}
}
