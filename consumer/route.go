package consumer

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// route is one task type the worker serves: its durable consumer and its
// registered handler.
type route struct {
	spec     tasks.Spec
	run      tasks.Handler // the registry's typed handler
	consumer jetstream.ConsumerConfig
	attrs    []slog.Attr
	// log is the worker's logger, for a job's lifecycle faults
	// (lifecycle.go).
	log *slog.Logger
	// replicated is set when the durable has followers: its
	// acknowledgements are then confirmed (see confirmAck).
	replicated atomic.Bool
	// in is its intake state (intake.go).
	in feed
	// done counts the tasks this worker settled, by outcome, failed
	// attempts to be retried included (presence.go).
	done counts
	// waits counts its first deliveries by their wait (history.go).
	waits waits
	// rates is its rate-limit state, nil without a limit (ratelimit.go).
	rates *rates
}

// counts are the settled tasks of one route, since the worker started.
type counts struct {
	succeeded, failed, deadLettered, expired atomic.Uint64
}

// count notes the outcome o, applied with the server's answer err.
func (c *counts) count(o tasks.Outcome, err error) {
	if err != nil {
		return // the server will deliver the task again
	}
	switch o.Action {
	case tasks.ActionAck:
		c.succeeded.Add(1)
	case tasks.ActionRetry:
		c.failed.Add(1)
	case tasks.ActionDeadLetter:
		c.failed.Add(1)
		c.deadLettered.Add(1)
	case tasks.ActionExpire:
		c.expired.Add(1)
	}
}

func (w *Worker) newRoute(rt tasks.Route) *route {
	r := &route{
		spec:     rt.Spec,
		run:      rt.Handler,
		consumer: wire.ConsumerConfig(w.cfg.topo, rt.Spec),
		attrs:    []slog.Attr{slog.String(keyTask, rt.Spec.Name), slog.String(keyQueue, rt.Spec.Queue)},
		log:      w.log,
	}
	r.rates = w.newRates(r)
	return r
}

func (w *Worker) logRoute(ctx context.Context, r *route, level slog.Level, msg string, attrs ...slog.Attr) {
	if !w.log.Enabled(ctx, level) {
		return
	}
	all := append(append(make([]slog.Attr, 0, len(r.attrs)+len(attrs)+1), r.attrs...), attrs...)
	all = append(all, slog.String(keyConsumer, r.consumer.Durable))
	w.log.LogAttrs(ctx, level, msg, all...)
}
