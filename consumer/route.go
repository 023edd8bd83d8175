package consumer

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/tasks"
)

// route is one task type the worker serves: its durable consumer and its
// registered handler.
type route struct {
	spec     tasks.Spec
	run      tasks.Handler // the registry's typed handler
	consumer jetstream.ConsumerConfig
	attrs    []slog.Attr
	// replicated is set when the durable has followers: its
	// acknowledgements are then confirmed (see confirmAck).
	replicated atomic.Bool
}

func (w *Worker) newRoute(rt tasks.Route) *route {
	return &route{
		spec:     rt.Spec,
		run:      rt.Handler,
		consumer: w.cfg.topology.Consumer(rt.Spec),
		attrs:    []slog.Attr{slog.String(keyTask, rt.Spec.Name), slog.String(keyQueue, rt.Spec.Queue)},
	}
}

func (w *Worker) logRoute(ctx context.Context, r *route, level slog.Level, msg string, attrs ...slog.Attr) {
	if !w.log.Enabled(ctx, level) {
		return
	}
	all := append(append(make([]slog.Attr, 0, len(r.attrs)+len(attrs)+1), r.attrs...), attrs...)
	all = append(all, slog.String(keyConsumer, r.consumer.Durable))
	w.log.LogAttrs(ctx, level, msg, all...)
}
