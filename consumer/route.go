package consumer

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
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

	// latest is the last delivery handed to dispatch (a jetstream.Msg;
	// Consume hands it no other type), and blocked tells that dispatch
	// waits for a free runner: what the stall check reads. asked is the
	// latest delivery when the check last asked the server, kept by the
	// route's consume goroutine.
	latest  atomic.Value
	blocked atomic.Bool
	asked   any
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
// consumer or the subscription ends, or when the subscription has stopped
// pulling while tasks wait.
func (w *Worker) consume(r *route) {
	ctx := w.stopCtx
	bo := retry.New(200*time.Millisecond, 15*time.Second, 0)
	recovering := false
	for ctx.Err() == nil {
		cons, cc, err := w.startConsume(ctx, r)
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
		switch w.watch(ctx, r, cons, cc) {
		case watchStopped:
			return
		case watchStalled:
			continue // pull again at once
		}
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

type watchResult int

const (
	watchStopped watchResult = iota // the worker stops; cc is drained
	watchClosed                     // cc ended by itself
	watchStalled                    // cc had stopped pulling; it is drained
)

// The stall check: while deliveries flow, a route looks every stallTick for
// a subscription that has stopped pulling; while it is idle or its runners
// are all busy, every stallIdle. A delivery is overdue when none has come for
// stallQuiet, or for stallRTTs of the server's last answer to the check if
// that is longer (a distant server is slower to answer a pull). Once the
// server says no pull waits, a delivery already on its way has that answer's
// time and stallGrace more to reach dispatch.
const (
	stallTick  = 5 * time.Millisecond
	stallIdle  = 100 * time.Millisecond
	stallQuiet = 15 * time.Millisecond
	stallRTTs  = 20
	stallGrace = 5 * time.Millisecond
)

// watch waits until the worker stops or cc ends, and meanwhile looks out for
// a subscription that has stopped pulling. nats.go's Consume can skip the
// pull it owes when its previous pull request is still being sent as the
// buffered messages run out; by itself it pulls again only when two
// heartbeats, half the pull expiry each, have gone missing. So when a
// delivery is overdue, dispatch is not waiting for a runner, the last
// delivery said more tasks were pending, the server says tasks wait with no
// pull for them and room under MaxAckPending, and no delivery came while it
// answered, the subscription is drained and started again. The server is
// asked at most once per delivery, so an idle worker asks nothing. It drops
// pulls nobody listens to any more, so nothing is delivered to the old
// subscription (with gateways or leaf nodes it may still be for a moment;
// such a task comes back after the ack wait).
func (w *Worker) watch(ctx context.Context, r *route, cons jetstream.Consumer, cc jetstream.ConsumeContext) watchResult {
	t := time.NewTicker(stallIdle)
	defer t.Stop()
	tick, quiet := stallIdle, stallQuiet
	every := func(d time.Duration) {
		if tick != d {
			tick = d
			t.Reset(d)
		}
	}
	var seen any
	var since time.Time // when seen was first seen
	for {
		select {
		case <-ctx.Done():
			w.drain(cc)
			return watchStopped
		case <-cc.Closed():
			return watchClosed
		case now := <-t.C:
			last := r.latest.Load()
			if last != seen {
				seen, since = last, now
				every(stallTick)
				continue
			}
			if last == nil || last == r.asked || r.blocked.Load() {
				every(stallIdle) // idle, or every runner busy: nothing is owed
				continue
			}
			if now.Sub(since) < quiet {
				continue
			}
			r.asked = last
			if d, err := wire.ReadDelivery(last.(jetstream.Msg)); err != nil || d.Pending == 0 {
				continue
			}
			asked := time.Now()
			starved, err := w.starved(ctx, cons)
			if err != nil {
				// Not asked again for this delivery, so a server that cannot
				// answer is not asked every tick: missed heartbeats make
				// nats.go pull again by itself.
				continue
			}
			rtt := time.Since(asked)
			quiet = max(stallQuiet, stallRTTs*rtt)
			// The server sends what a pull asked for before it answers, but
			// dispatch may not have it yet: give it a moment.
			if !starved || w.delivered(ctx, r, last, rtt+stallGrace) {
				continue
			}
			w.logRoute(ctx, r, slog.LevelInfo, "jetq: consumer stopped pulling with tasks waiting; pulling again")
			w.drain(cc)
			return watchStalled
		}
	}
}

// delivered reports whether a delivery other than last has reached dispatch
// after d.
func (w *Worker) delivered(ctx context.Context, r *route, last any, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return r.latest.Load() != last
}

// starved asks the server whether the route's consumer has tasks waiting,
// room to deliver them, and no pull request to deliver them to.
func (w *Worker) starved(ctx context.Context, cons jetstream.Consumer) (bool, error) {
	ictx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	info, err := cons.Info(ictx)
	if err != nil {
		return false, err
	}
	room := info.Config.MaxAckPending <= 0 || info.NumAckPending < info.Config.MaxAckPending
	return info.NumPending > 0 && info.NumWaiting == 0 && room && !info.Paused, nil
}

// drain ends cc once the deliveries it has buffered are dispatched; in a
// forced stop it waits only a moment for them.
func (w *Worker) drain(cc jetstream.ConsumeContext) {
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
}

// startConsume creates or updates the route's durable consumer and starts
// pulling from it.
func (w *Worker) startConsume(ctx context.Context, r *route) (jetstream.Consumer, jetstream.ConsumeContext, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cons, err := w.js.CreateOrUpdateConsumer(cctx, w.cfg.topology.Names.WorkStream(), r.consumer)
	if err != nil {
		return nil, nil, err
	}
	consume := cons.Consume
	if w.consumeFunc != nil {
		consume = func(h jetstream.MessageHandler, opts ...jetstream.PullConsumeOpt) (jetstream.ConsumeContext, error) {
			return w.consumeFunc(cons, h, opts...)
		}
	}
	cc, err := consume(
		func(msg jetstream.Msg) { w.dispatch(r, msg) },
		jetstream.PullMaxMessages(w.cfg.prefetch),
		jetstream.PullPriorityGroup(wire.PriorityGroup),
		// Short pulls: a pull lost to a leader change or a frozen server is
		// noticed by missing heartbeats within pullExpiry, not 30 s.
		jetstream.PullExpiry(pullExpiry),
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
	return cons, cc, err
}

// pullExpiry bounds each pull request.
const pullExpiry = 5 * time.Second

func (w *Worker) logRoute(ctx context.Context, r *route, level slog.Level, msg string, attrs ...slog.Attr) {
	if !w.log.Enabled(ctx, level) {
		return
	}
	all := append(append(make([]slog.Attr, 0, len(r.attrs)+len(attrs)+1), r.attrs...), attrs...)
	all = append(all, slog.String(keyConsumer, r.consumer.Durable))
	w.log.LogAttrs(ctx, level, msg, all...)
}
