package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/settle"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// job is one delivery in the worker's hands, from its arrival until it is
// settled.
type job struct {
	msg   jetstream.Msg
	route *route
	// envelope is allocated with the job: one allocation a delivery.
	envelope tasks.Envelope
	env      *tasks.Envelope // points to envelope
	// malformed is why the delivery cannot be read as a task, if it cannot.
	malformed error
	// stored is when the work stream stored the message.
	stored time.Time
	// ran, if not 0, is how many times the handler ran, as the dead-letter
	// record a redelivery found says (filedAlready); else env.Attempt.
	ran  int
	slot int
	// progress is the status reporter of a tracked task, set before its
	// handler runs.
	progress atomic.Pointer[progress]
	// deadline is the handler's deadline in Unix nanoseconds, 0 before it runs.
	deadline atomic.Int64
	// started is when its handler started, in Unix nanoseconds, 0 before
	// (its presence entry lists it as running from then on).
	started atomic.Int64
	// word is the delivery's state in its lifecycle, with the
	// settlement another goroutine claimed; only swap changes it
	// (lifecycle.go).
	word atomic.Pointer[stateWord]
	// kept is set once the final record of a task type with retention is
	// written (keepFinal), by whoever applies the settlement.
	kept bool
	// claimed is set once its run is claimed (fired.go): a task held for a
	// place of its key comes back to a runner claimed (keylimit.go). Beside
	// kept, in the struct's padding: a job is no larger for it.
	claimed bool
}

// hand is the set of deliveries the worker holds, for the heartbeat.
type hand struct {
	mu   sync.Mutex
	jobs map[*job]struct{}
}

func (h *hand) add(j *job) {
	h.mu.Lock()
	h.jobs[j] = struct{}{}
	h.mu.Unlock()
}

func (h *hand) remove(j *job) {
	h.mu.Lock()
	delete(h.jobs, j)
	h.mu.Unlock()
}

func (h *hand) all() []*job {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*job, 0, len(h.jobs))
	for j := range h.jobs {
		out = append(out, j)
	}
	return out
}

// hold takes a delivery into the worker's hands and queues it for a runner;
// in a forced stop it is handed straight back.
func (w *Worker) hold(r *route, msg jetstream.Msg) {
	j := newJob(r, msg)
	w.hand.add(j)
	if w.baseCtx.Err() != nil {
		w.handBack(j)
		return
	}
	if r.rates != nil && w.holdForKey(r.rates, j) {
		return // queued once its key's limit grants it a start (ratelimit.go)
	}
	w.queue <- j // room for every delivery the intake can bring: never blocks
}

// handedBack is the settlement of a delivery handed back unrun.
var handedBack = tasks.Outcome{Action: tasks.ActionRelease}

// unreadable is the settlement of a delivery without metadata: a bug, so
// it comes back after a second rather than at once.
var unreadable = tasks.Outcome{Action: tasks.ActionRetry, Delay: time.Second}

// handBack returns a delivery no handler ran for immediate redelivery.
func (w *Worker) handBack(j *job) {
	if j.claimWith(&handedBack) {
		_ = j.msg.Nak()
		w.release(j)
	}
}

// runner is one of the worker's concurrency handler goroutines, owning slot
// until the pulls have stopped and the queue is empty, or until its handler
// is abandoned and a replacement takes the slot over.
func (w *Worker) runner(slot int) {
	// The runner's own child of the worker's ctx parents its attempts'
	// deadlines, so runners do not queue on one parent to register them;
	// cancelling a task cancels it (cancel.go).
	ctx, cancel := w.runnerCtx(slot)
	defer func() { cancel(nil) }()
	for {
		var j *job
		select {
		case j = <-w.queue:
		case <-w.pullsDone:
			select {
			case j = <-w.queue:
			default:
				w.active.Done()
				return
			}
		}
		if !w.run(ctx, j, slot) {
			return // abandoned: the slot has a new runner
		}
		ctx, cancel = w.nextCtx(slot, ctx, cancel)
	}
}

// run processes one delivery on slot. It reports whether the runner still
// owns the slot: false when the heartbeat gave up on the handler meanwhile.
func (w *Worker) run(ctx context.Context, j *job, slot int) bool {
	if w.baseCtx.Err() != nil {
		w.handBack(j) // forced stop: not started, straight back
		return true
	}
	r := j.route
	md, err := j.msg.Metadata()
	if err != nil {
		// A pull consumer only delivers JetStream messages; this is a bug.
		w.logRoute(w.baseCtx, r, slog.LevelError, "jetq: delivery without metadata; returning it", slog.String(keyError, err.Error()))
		if j.claimWith(&unreadable) {
			_ = j.msg.NakWithDelay(unreadable.Delay)
			w.release(j)
		}
		return true
	}
	j.stored = md.Timestamp
	j.malformed = wire.ReadRoute(j.env, w.cfg.names, j.msg, md, r.consumer.FilterSubject, r.spec.Queue, r.spec.Name)
	j.env.MaxAttempts = r.spec.MaxAttempts
	if !j.claimed && w.copyOfFired(ctx, j) {
		return true // let go unrun: a fired task another delivery runs or ran (fired.go)
	}
	j.claimed = true
	if w.tellServer {
		j.env.Server = w.js.Conn().ConnectedAddr() // server.address in traces
	}
	if w.pausedNow(r) && j.malformed == nil {
		w.setAsidePaused(ctx, j) // delivered, or held, before the pause (pause.go)
		return true
	}
	if r.spec.KeyConcurrency > 0 && w.keyBusy(ctx, j) != keyRun {
		return true // held until a place of its key frees, or set aside unrun, snoozed (keylimit.go)
	}
	j.slot = slot
	j.started.Store(time.Now().UnixNano())
	j.move(stateHeld, stateRunning) // before running[slot]: what the cancel watch and a forced stop find there runs
	w.running[slot].Store(j)

	h := tasks.Chain(w.terminal(j), w.cfg.middleware...)
	start := time.Now()
	r.waits.note(md, start)
	err = settle.Call(ctx, h, j.env)     // a middleware's panic too fails only the attempt
	r.in.noteHandling(time.Since(start)) // sizes the type's prefetch
	if j.env.Outcome.Action == tasks.ActionNone {
		// A middleware returned without calling next.
		w.settle(ctx, j, err, false)
	}
	// The settlement released the delivery, or handed it to a goroutine
	// that will; the slot is the runner's unless an abandon took it first.
	return w.running[slot].CompareAndSwap(j, nil)
}

// terminal is the innermost handler of j's delivery: it terminates a
// redelivered task whose dead-letter record is filed already, drops a
// cancelled task (cancel.go) and a task past its deadline unrun, records
// a tracked task as running, runs the registered handler under the task's
// timeout, and settles the delivery.
func (w *Worker) terminal(j *job) tasks.Handler {
	return func(ctx context.Context, env *tasks.Envelope) error {
		if j.malformed != nil {
			err := fmt.Errorf("%w: %w", tasks.ErrInvalidPayload, j.malformed)
			w.settle(ctx, j, err, false)
			return err
		}
		if env.Attempt > 1 && (w.filedAlready(ctx, j) || j.route.spec.Retention > 0 && w.doneAlready(ctx, j)) {
			return nil
		}
		if w.isCancelled(j) {
			w.dropCancelled(ctx, j)
			return nil
		}
		if w.expired(j, 0) {
			w.expire(ctx, j)
			return nil
		}
		ctx, done, err := w.prepareStep(ctx, j)
		if done || err != nil {
			if err != nil {
				w.settle(ctx, j, err, false)
			}
			return err
		}
		r := j.route
		if r.spec.TrackState {
			ctx = w.trackRunning(ctx, j)
		}
		timedOut, err := settle.Attempt(ctx, r.run, env, r.spec.Timeout, func(dl time.Time) {
			j.deadline.Store(dl.UnixNano())
		})
		w.settle(ctx, j, err, timedOut)
		return err
	}
}

// heartbeat tells the server, every third of the shortest ack wait of the
// worker's task types, that the deliveries in the worker's hands are alive —
// those whose state is heartbeated (lifecycle.go): held, running, or in a
// slow step of their settlement — and gives up on handlers that overran
// their deadline.
func (w *Worker) heartbeat() {
	every := tasks.DefaultAckWait
	for _, r := range w.routes {
		every = min(every, r.consumer.AckWait)
	}
	t := time.NewTicker(every / 3)
	defer t.Stop()
	for {
		select {
		case <-w.drained:
			return
		case now := <-t.C:
			for _, j := range w.hand.all() {
				switch st := j.state(); {
				case !st.heartbeated():
					continue
				case st.running():
					if dl := j.deadline.Load(); dl != 0 && now.UnixNano() > dl+int64(w.cfg.releaseGrace) {
						// Apart from the heartbeat: filing the abandoned
						// task's record may take fileTimeout, and every
						// other delivery held needs its heartbeat meanwhile.
						// The stuck runner holds its place in active.
						w.active.Add(1)
						go func() {
							defer w.active.Done()
							w.abandon(w.baseCtx, j)
						}()
						continue
					}
				}
				_ = j.msg.InProgress()
			}
		}
	}
}

// abandon settles a job whose handler has not returned: past its deadline it
// counts as a timed-out attempt; in a forced stop it is handed back. The
// handler's goroutine is left to finish on its own; its result is ignored,
// and its env.Outcome takes this settlement when it returns (see claim):
// abandon, on another goroutine, never writes the envelope.
func (w *Worker) abandon(ctx context.Context, j *job) {
	if j.settled() {
		return
	}
	var err error
	timedOut := w.baseCtx.Err() == nil
	if timedOut {
		err = fmt.Errorf("handler did not return within %v of its %v timeout; abandoned it", w.cfg.releaseGrace, j.route.spec.Timeout)
	} else {
		err = errors.New("worker stopped before the handler returned")
	}
	o := w.decide(j, err, timedOut)
	if !j.claimWith(&o) {
		return
	}
	w.apply(ctx, j, o)
	if w.running[j.slot].CompareAndSwap(j, nil) {
		go w.runner(j.slot) // the stuck goroutine keeps its handler; the slot gets a new runner
	}
}
