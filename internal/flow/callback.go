package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
)

// hasCallbacks reports whether h names an on-success or on-failure
// callback (producer.OnSuccess, producer.OnFailure).
func hasCallbacks(h tasks.Header) bool {
	return h[wire.HeaderOnSuccess] != nil || h[wire.HeaderOnFailure] != nil
}

// callbacks enqueues the callback that s calls for, if any, with an ID
// derived from the settled task's (wire.CallbackID): the success callback
// with the task's result as its payload, the failure callback with a
// tasks.Failure. Enqueued again for the same settlement, the work stream
// drops it within its deduplication window, and the worker that takes it
// runs one callback ID once (its claim in the fired-task bucket) after that.
// A callback header that cannot be read is logged and skipped: delivering
// the task again would not mend it.
func (r *Runner) callbacks(ctx context.Context, s Settlement) error {
	env := s.Env
	var key, kind string
	switch s.State {
	case status.Done:
		key, kind = wire.HeaderOnSuccess, wire.CallbackSuccess
	case status.DeadLettered, status.Expired, status.Cancelled:
		key, kind = wire.HeaderOnFailure, wire.CallbackFailure
	default:
		return nil
	}
	v := env.Header.Get(key)
	if v == "" {
		return nil
	}
	cb, err := wire.ParseCallback(v)
	if err != nil {
		r.log.LogAttrs(ctx, slog.LevelWarn, "jetq: task names a callback that cannot be read; not enqueueing it",
			slog.String("task_id", env.ID), slog.String("error", err.Error()))
		return nil
	}
	body := s.Result
	switch {
	case kind == wire.CallbackFailure:
		if body, err = json.Marshal(failureOf(s)); err != nil {
			return fmt.Errorf("flow: encode the failure of task %s: %w", env.ID, err)
		}
	case body == nil:
		// A task that returns no result: its callback takes struct{}.
		body = []byte("{}")
	}
	msg := wire.CallbackMsg(r.names, cb, kind, env.ID, env.Sequence, body)
	id := msg.Header.Get(wire.HeaderMsgID)
	continueTrace(ctx, env.Header, tasks.Header(msg.Header))
	ack, err := r.js.PublishMsg(ctx, msg)
	if err != nil {
		return fmt.Errorf("flow: enqueue the %s callback %s of task %s: %w", kind, cb.Task, env.ID, err)
	}
	if want := r.names.WorkStream(); ack.Stream != want {
		return fmt.Errorf("flow: callback %s of task %s was stored by stream %s, not %s: another stream claims subject %s",
			id, env.ID, ack.Stream, want, msg.Subject)
	}
	r.log.LogAttrs(ctx, slog.LevelDebug, "jetq: callback enqueued",
		slog.String("task_id", env.ID), slog.String("callback", cb.Task), slog.String("callback_id", id),
		slog.Bool("duplicate", ack.Duplicate))
	return nil
}

// failureOf is the payload of the failure callback of s.
func failureOf(s Settlement) tasks.Failure {
	env := s.Env
	return tasks.Failure{
		ID: env.ID, Task: env.Name, Queue: env.Queue, State: string(s.State),
		Reason: s.Reason, Error: truncate(s.Error, wire.MaxErrorLen), Attempts: s.Attempts, At: s.At.UTC(),
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// traceContext writes the W3C trace context, the wire format's traceparent
// and tracestate.
var traceContext propagation.TraceContext

// continueTrace puts in to, the header of a task that a settlement
// enqueues, the trace it continues: the span of ctx (the settled task's
// process span, under tracing.Consumer), else the trace context of from,
// the settled task's header (the forwarder has no span of the task).
// Baggage travels on from from.
func continueTrace(ctx context.Context, from, to tasks.Header) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		traceContext.Inject(ctx, tracing.HeaderCarrier(to))
	} else {
		for _, k := range traceContext.Fields() {
			if v := from[k]; v != nil {
				to[k] = v
			}
		}
	}
	if v := from["baggage"]; v != nil {
		to["baggage"] = v
	}
}
