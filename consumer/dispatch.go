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
	env   *tasks.Envelope // points to envelope
	route *route
	// envelope and the contexts are allocated with the job: one allocation
	// a delivery.
	envelope tasks.Envelope
	ctx      jobCtx
	attempt  settle.Ctx
	slot     int
	// malformed is why the delivery cannot be read as a task, if it cannot.
	malformed error
	// stored is when the work stream stored the message.
	stored time.Time
	// progress is the status reporter of a tracked task, set before its
	// handler runs.
	progress atomic.Pointer[progress]
	// deadline is the handler's deadline in Unix nanoseconds, 0 before it runs.
	deadline atomic.Int64
	// settled is won by whoever settles the delivery: the handler's return
	// or the heartbeat giving up on a handler that overran its deadline.
	settled atomic.Bool
	// filing is set while its dead-letter record is being filed: the
	// heartbeat keeps the delivery alive meanwhile.
	filing atomic.Bool
	// freed is won by whoever gives the slot back.
	freed atomic.Bool
}

type jobKey struct{}

// jobCtx is the context a delivery's middleware and handler run under: the
// worker's, carrying the job for the terminal handler to find.
type jobCtx struct {
	context.Context
	j *job
}

// Value returns the job for jobKey, else what the worker's context holds.
func (c *jobCtx) Value(key any) any {
	if key == (jobKey{}) {
		return c.j
	}
	return c.Context.Value(key)
}

// delivery is a message on its way from a route's Consume to a runner.
type delivery struct {
	r   *route
	msg jetstream.Msg
}

// dispatch is the Consume callback: it hands the delivery to a free runner,
// heartbeating it while every runner is busy. Blocking here is what keeps the
// client from pulling more than the worker can run.
func (w *Worker) dispatch(r *route, msg jetstream.Msg) {
	d := delivery{r: r, msg: msg}
	r.latest.Store(msg)
	if w.baseCtx.Err() != nil {
		_ = msg.Nak() // forced stop: hand it straight back
		return
	}
	select {
	case w.work <- d:
		return
	default:
	}
	r.blocked.Store(true)
	defer r.blocked.Store(false)
	t := time.NewTicker(w.cfg.ackWait / 3)
	defer t.Stop()
	for {
		select {
		case w.work <- d:
			return
		case <-w.baseCtx.Done():
			_ = msg.Nak()
			return
		case <-t.C:
			_ = msg.InProgress()
		}
	}
}

// runner is one of the worker's concurrency handler goroutines, owning slot
// until every route has stopped, or until its handler is abandoned and a
// replacement takes the slot over.
func (w *Worker) runner(slot int) {
	for {
		select {
		case d := <-w.work:
			if !w.run(d.r, d.msg, slot) {
				return // abandoned: the slot has a new runner
			}
		case <-w.routesDone:
			w.active.Done()
			return
		}
	}
}

// run processes one delivery on slot. It reports whether the runner still
// owns the slot: false when the heartbeat gave up on the handler meanwhile.
func (w *Worker) run(r *route, msg jetstream.Msg, slot int) bool {
	d, err := wire.ReadDelivery(msg)
	if err != nil {
		// A pull consumer only delivers JetStream messages; this is a bug.
		w.logRoute(w.baseCtx, r, slog.LevelError, "jetq: delivery without metadata; returning it", slog.String(keyError, err.Error()))
		_ = msg.NakWithDelay(time.Second)
		return true
	}
	j := &job{msg: msg, route: r, slot: slot, stored: d.Timestamp}
	j.env = &j.envelope
	j.malformed = wire.ReadRoute(j.env, w.cfg.topology.Names, msg, d, r.consumer.FilterSubject, r.spec.Queue, r.spec.Name)
	j.env.MaxAttempts = r.spec.MaxAttempts
	w.running[slot].Store(j)

	j.ctx = jobCtx{Context: w.baseCtx, j: j}
	ctx := context.Context(&j.ctx)
	err = r.handler(ctx, j.env)
	if j.env.Outcome.Action == tasks.ActionNone {
		// A middleware returned without calling next.
		w.settle(ctx, j, err, false)
	}
	if !j.release() {
		return false
	}
	w.running[slot].CompareAndSwap(j, nil)
	return true
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
		}, &j.attempt)
		w.settle(ctx, j, err, timedOut)
		return err
	}
}

// release claims the job's slot back from it, once: the runner when the
// handler returns, or the heartbeat when it abandons the handler.
func (j *job) release() bool { return j.freed.CompareAndSwap(false, true) }

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
				switch {
				case j == nil:
					continue
				case j.filing.Load():
					_ = j.msg.InProgress() // not redelivered while its record is filed
					continue
				case j.settled.Load():
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
	if j.release() {
		w.running[j.slot].CompareAndSwap(j, nil)
		go w.runner(j.slot) // the stuck goroutine keeps its handler; the slot gets a new runner
	}
}
