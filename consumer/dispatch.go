package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/settle"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// job is one delivery holding a handler slot.
type job struct {
	msg   jetstream.Msg
	env   *tasks.Envelope
	route *route
	slot  int
	// malformed is why the delivery cannot be read as a task, if it cannot.
	malformed error
	// deadline is the handler's deadline in Unix nanoseconds, 0 before it runs.
	deadline atomic.Int64
	// settled is won by whoever settles the delivery: the handler's return
	// or the heartbeat giving up on a handler that overran its deadline.
	settled atomic.Bool
	// freed is won by whoever gives the slot back.
	freed atomic.Bool
}

type jobKey struct{}

// dispatch is the Consume callback: it waits for a handler slot, heartbeating
// the delivery meanwhile, and runs the job on its own goroutine. Blocking here
// is what keeps the client from pulling more than the worker can run.
func (w *Worker) dispatch(r *route, msg jetstream.Msg) {
	slot, ok := w.acquire(msg)
	if !ok {
		// Forced stop: hand it straight back.
		_ = msg.Nak()
		return
	}
	w.active.Add(1)
	go w.run(r, msg, slot)
}

func (w *Worker) acquire(msg jetstream.Msg) (int, bool) {
	if w.baseCtx.Err() != nil {
		return 0, false
	}
	select {
	case s := <-w.slots:
		return s, true
	default:
	}
	t := time.NewTicker(w.cfg.ackWait / 3)
	defer t.Stop()
	for {
		select {
		case s := <-w.slots:
			if w.baseCtx.Err() != nil {
				w.slots <- s
				return 0, false
			}
			return s, true
		case <-w.baseCtx.Done():
			return 0, false
		case <-t.C:
			_ = msg.InProgress()
		}
	}
}

func (w *Worker) run(r *route, msg jetstream.Msg, slot int) {
	j := &job{msg: msg, route: r, slot: slot}
	md, err := msg.Metadata()
	if err != nil {
		// A pull consumer only delivers JetStream messages; this is a bug.
		w.logRoute(w.baseCtx, r, slog.LevelError, "jetq: delivery without metadata; returning it", slog.String(keyError, err.Error()))
		_ = msg.NakWithDelay(time.Second)
		w.free(j)
		return
	}
	j.env, j.malformed = wire.FromDelivery(w.cfg.topology.Names, msg, md)
	j.env.MaxAttempts = r.spec.MaxAttempts
	w.running[slot].Store(j)
	defer w.free(j)

	ctx := context.WithValue(w.baseCtx, jobKey{}, j)
	err = r.handler(ctx, j.env)
	if j.env.Outcome.Action == tasks.ActionNone {
		// A middleware returned without calling next.
		w.settle(ctx, j, err, false)
	}
}

// terminal is the innermost handler of a route: it runs the registered
// handler under the task's timeout and settles the delivery.
func (w *Worker) terminal(r *route) tasks.Handler {
	return func(ctx context.Context, env *tasks.Envelope) error {
		j, _ := ctx.Value(jobKey{}).(*job)
		if j == nil {
			return errors.New("consumer: a middleware replaced the worker's ctx instead of deriving from it")
		}
		if j.malformed != nil {
			err := fmt.Errorf("%w: %w", tasks.ErrInvalidPayload, j.malformed)
			w.settle(ctx, j, err, false)
			return err
		}
		timedOut, err := settle.Attempt(ctx, r.run, env, r.spec.Timeout, func(dl time.Time) {
			j.deadline.Store(dl.UnixNano())
		})
		w.settle(ctx, j, err, timedOut)
		return err
	}
}

// free gives the job's slot back, once.
func (w *Worker) free(j *job) {
	if !j.freed.CompareAndSwap(false, true) {
		return
	}
	w.running[j.slot].CompareAndSwap(j, nil)
	w.slots <- j.slot
	w.active.Done()
}

// heartbeat tells the server, every third of the ack wait, that running
// tasks are alive, and gives up on handlers that overran their deadline.
func (w *Worker) heartbeat() {
	t := time.NewTicker(w.cfg.ackWait / 3)
	defer t.Stop()
	for {
		select {
		case <-w.drained:
			return
		case now := <-t.C:
			for i := range w.running {
				j := w.running[i].Load()
				if j == nil || j.settled.Load() {
					continue
				}
				if dl := j.deadline.Load(); dl != 0 && now.UnixNano() > dl+int64(w.cfg.releaseGrace) {
					w.abandon(w.baseCtx, j)
					continue
				}
				_ = j.msg.InProgress()
			}
		}
	}
}

// abandon settles a job whose handler has not returned: past its deadline it
// counts as a timed-out attempt; in a forced stop it is handed back. The
// handler's goroutine is left to finish on its own; its result is ignored.
func (w *Worker) abandon(ctx context.Context, j *job) {
	if !j.settled.CompareAndSwap(false, true) {
		return
	}
	var err error
	timedOut := w.baseCtx.Err() == nil
	if timedOut {
		err = fmt.Errorf("handler did not return within %v of its %v timeout; abandoned it", w.cfg.releaseGrace, j.route.spec.Timeout)
	} else {
		err = errors.New("worker stopped before the handler returned")
	}
	w.apply(ctx, j, w.decide(j, err, timedOut))
	w.free(j)
}
