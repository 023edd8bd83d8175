package consumer

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/tasks"
)

// route is one task type the worker serves: its durable consumer and the
// handler chain that processes its deliveries.
type route struct {
	spec     tasks.Spec
	run      tasks.Handler // the registry's typed handler
	handler  tasks.Handler // middleware around the terminal
	consumer jetstream.ConsumerConfig
	attrs    []slog.Attr
}

func (w *Worker) newRoute(rt tasks.Route) *route {
	r := &route{
		spec:     rt.Spec,
		run:      rt.Handler,
		consumer: w.cfg.topology.Consumer(rt.Spec, w.cfg.ackWait, 0),
	}
	r.attrs = []slog.Attr{slog.String(keyTask, rt.Spec.Name), slog.String(keyQueue, rt.Spec.Queue)}
	inner := w.terminal(r)
	if rt.Spec.TrackState {
		inner = w.trackState(inner)
	}
	r.handler = tasks.Chain(inner, w.cfg.middleware...)
	return r
}

// consume keeps one Consume running on the route's durable until the worker
// stops, recreating consumer and subscription when the server deletes the
// consumer or the subscription ends.
func (w *Worker) consume(r *route) {
	ctx := w.stopCtx
	bo := retry.New(200*time.Millisecond, 15*time.Second, 0)
	recovering := false
	for ctx.Err() == nil {
		cc, err := w.startConsume(ctx, r)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if w.js.Conn().IsClosed() {
				w.fail(ErrConnectionClosed)
				return
			}
			w.logRoute(ctx, r, slog.LevelWarn, "jetq: cannot consume yet; retrying", slog.String(keyError, err.Error()))
			recovering = true
			if bo.Wait(ctx) != nil {
				return
			}
			continue
		}
		if recovering {
			w.logRoute(ctx, r, slog.LevelInfo, "jetq: consumer recovered")
			recovering = false
		}
		bo.Reset()
		select {
		case <-ctx.Done():
			cc.Drain()
			select {
			case <-cc.Closed():
			case <-w.baseCtx.Done():
				// Forced stop: deliveries still buffered are released by
				// dispatch; give the drain a moment, then let go.
				select {
				case <-cc.Closed():
				case <-time.After(2 * time.Second):
					cc.Stop()
				}
			}
			return
		case <-cc.Closed():
			if ctx.Err() != nil {
				return
			}
			if w.js.Conn().IsClosed() {
				w.fail(ErrConnectionClosed)
				return
			}
			w.logRoute(ctx, r, slog.LevelWarn, "jetq: consumer stopped; recreating it")
			recovering = true
			if bo.Wait(ctx) != nil {
				return
			}
		}
	}
}

// startConsume creates or updates the route's durable consumer and starts
// pulling from it.
func (w *Worker) startConsume(ctx context.Context, r *route) (jetstream.ConsumeContext, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cons, err := w.js.CreateOrUpdateConsumer(cctx, w.cfg.topology.Names.WorkStream(), r.consumer)
	if err != nil {
		return nil, err
	}
	return cons.Consume(
		func(msg jetstream.Msg) { w.dispatch(r, msg) },
		jetstream.PullMaxMessages(w.cfg.prefetch),
		// Short pulls: a pull lost to a leader change or a frozen server is
		// noticed by missing heartbeats within pullExpiry, not 30 s.
		jetstream.PullExpiry(pullExpiry),
		// Frequent heartbeats: nats.go's Consume can skip the pull it owes
		// when the previous pull request is still being sent as the
		// buffered messages run out, and only missed heartbeats make it
		// pull again. Two heartbeats are how long such a pause lasts; 500
		// ms is the least nats.go accepts. The server sends them only to
		// pulls left waiting, so a busy worker gets none.
		jetstream.PullHeartbeat(pullHeartbeat),
		jetstream.ConsumeErrHandler(func(cc jetstream.ConsumeContext, err error) {
			level := slog.LevelWarn
			switch {
			case errors.Is(err, jetstream.ErrNoHeartbeat):
				level = slog.LevelInfo // the client pulls again by itself
			case errors.Is(err, nats.ErrNoResponders):
				// Nobody leads the consumer (an election, a restart): the
				// client would wait for missing heartbeats; start over now.
				cc.Stop()
			}
			w.logRoute(ctx, r, level, "jetq: consumer reported an error", slog.String(keyError, err.Error()))
		}),
	)
}

// pullExpiry bounds each pull request.
const pullExpiry = 5 * time.Second

// pullHeartbeat is how often the server tells a waiting pull it is alive.
const pullHeartbeat = 500 * time.Millisecond

func (w *Worker) logRoute(ctx context.Context, r *route, level slog.Level, msg string, attrs ...slog.Attr) {
	if !w.log.Enabled(ctx, level) {
		return
	}
	all := append(append(make([]slog.Attr, 0, len(r.attrs)+len(attrs)+1), r.attrs...), attrs...)
	all = append(all, slog.String(keyConsumer, r.consumer.Durable))
	w.log.LogAttrs(ctx, level, msg, all...)
}
