package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/cancels"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// cancelWatch is the worker's side of cancelling tasks (inspect's Cancel
// writes a record per cancelled task into the cancel bucket,
// internal/cancels). One key-value watch a worker, started before the
// worker takes a task, keeps the IDs of the cancelled tasks in ids, stored
// records first and then each new one. A task picked up whose ID is there
// is settled as cancelled unrun: one map look-up a delivery, no request.
// A record that comes while a handler runs the task cancels the handler's
// ctx, with cause tasks.ErrCancelled, and the handler's error then settles
// the task as cancelled (decide): terminated, neither retried nor
// dead-lettered, and not run again if it is delivered again. A record is
// added to ids before the running tasks are looked at, and a runner
// publishes its task in running before it looks at ids (terminal), so
// either the runner sees the record or the watch sees the task. ids is a
// map under a lock rather than one copied at each add, so that a burst of
// records (a bulk cancel) costs each one an insert.
//
// The handler's ctx is its runner's (runnerCtx): a runner keeps one ctx
// from task to task and makes a new one only after a cancel ended it, so a
// plain task pays no ctx of its own for this. stops[slot] is the cancel of
// the runner of slot; its lock makes cancelling the runner's task and the
// runner moving on to its next task happen one after the other, so a
// cancel never reaches the next task.
type cancelWatch struct {
	store *cancels.Store
	// ids holds the cancelled task IDs, with when each was cancelled,
	// under mu; n is its size, read without the lock, so that while no
	// task is cancelled the look-up takes no lock. Entries older than
	// wire.CancelWindow (the bucket's TTL dropped their records) are
	// pruned once an hour, at an add.
	mu     sync.RWMutex
	ids    map[string]time.Time
	n      atomic.Int64
	pruned time.Time
	stops  []stop
}

// has reports whether task id is cancelled.
func (cw *cancelWatch) has(id string) bool {
	if cw.n.Load() == 0 {
		return false
	}
	cw.mu.RLock()
	_, ok := cw.ids[id]
	cw.mu.RUnlock()
	return ok
}

// add notes the cancel records cs.
func (cw *cancelWatch) add(cs ...wire.Cancel) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.ids == nil {
		cw.ids = make(map[string]time.Time, len(cs))
	}
	for _, c := range cs {
		cw.ids[c.ID] = c.At
	}
	if now := time.Now(); now.Sub(cw.pruned) > time.Hour {
		maps.DeleteFunc(cw.ids, func(_ string, at time.Time) bool { return now.Sub(at) > wire.CancelWindow })
		cw.pruned = now
	}
	cw.n.Store(int64(len(cw.ids)))
}

// stop is the cancel of the ctx of one runner.
type stop struct {
	mu     sync.Mutex
	cancel context.CancelCauseFunc
}

func newCancelWatch(js jetstream.JetStream, cfg config) *cancelWatch {
	return &cancelWatch{store: cancels.New(js, cfg.topo), stops: make([]stop, cfg.concurrency)}
}

// runnerCtx returns a new ctx for the runner of slot, whose cancel a
// record of the task it runs calls.
func (w *Worker) runnerCtx(slot int) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(w.baseCtx)
	s := &w.cancels.stops[slot]
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	return ctx, cancel
}

// nextCtx is the ctx of the runner of slot for its next task: ctx, unless
// a cancel ended it.
func (w *Worker) nextCtx(slot int, ctx context.Context, cancel context.CancelCauseFunc) (context.Context, context.CancelCauseFunc) {
	s := &w.cancels.stops[slot]
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() == nil {
		return ctx, cancel
	}
	cancel(nil)
	ctx, cancel = context.WithCancelCause(w.baseCtx)
	s.cancel = cancel
	return ctx, cancel
}

// isCancelled reports whether j's task was cancelled, as far as the
// records the worker has seen tell: one map look-up.
func (w *Worker) isCancelled(j *job) bool { return w.cancels.has(j.env.ID) }

// dropCancelled settles j, whose task was cancelled before it ran, as
// cancelled without running it.
func (w *Worker) dropCancelled(ctx context.Context, j *job) {
	o := tasks.Outcome{Action: tasks.ActionCancel, Err: tasks.ErrCancelled}
	if !j.claim(o) {
		return
	}
	if j.route.spec.TrackState {
		j.progress.Store(&progress{w: w, st: statusstore.Of(j.env)}) // so that the outcome is recorded
	}
	w.apply(ctx, j, o)
}

// cancelledOutcome is the settlement of a task whose handler returned err
// after its task was cancelled.
func cancelledOutcome(err error) tasks.Outcome {
	if !errors.Is(err, tasks.ErrCancelled) {
		err = fmt.Errorf("%w; the handler returned: %w", tasks.ErrCancelled, err)
	}
	return tasks.Outcome{Action: tasks.ActionCancel, Err: err}
}

// cancelRunning cancels the ctx of the handler running task id, if one
// runs it here.
func (w *Worker) cancelRunning(id string) {
	for i := range w.running {
		j := w.running[i].Load()
		if j == nil || j.env.ID != id || j.settled() {
			continue
		}
		s := &w.cancels.stops[i]
		s.mu.Lock()
		// Cancelling before the cancel: decide reads it once the handler
		// returns. A job settled meanwhile is not moved.
		if w.running[i].Load() == j && j.move(stateRunning, stateCancelling) {
			s.cancel(tasks.ErrCancelled)
		}
		s.mu.Unlock()
		w.logTask(w.baseCtx, j, slog.LevelInfo, "jetq: task cancelled; cancelled its handler's ctx")
	}
}

// cancelWatchTimeout bounds the start of the watch and its read of the
// stored records.
const cancelWatchTimeout = 5 * time.Second

// watchCancels starts the worker's watch of the cancel bucket and reads
// the stored records before it returns, so that no cancelled task runs
// because the worker took it before it knew. A watch that cannot start is
// logged and tried again in the background, with a backoff: meanwhile
// cancelled tasks may run here. The watch ends once the worker has
// stopped.
func (w *Worker) watchCancels() {
	w.keepWatching("cancelled tasks", "a cancelled task may run", w.openCancels, w.followCancels)
}

// keepWatching opens a watch of a bucket with open, which reads the stored
// records before it returns, then follows its updates in the background
// with follow, opening it again with a backoff when it ends or could not
// open, until the worker has stopped. what names the records in the log,
// meanwhile what may happen until the watch is open.
func (w *Worker) keepWatching(what, meanwhile string, open func(context.Context) (<-chan jetstream.KeyValueEntry, error),
	follow func(<-chan jetstream.KeyValueEntry)) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-w.drained
		cancel()
	}()
	updates, err := open(ctx)
	if err != nil {
		w.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot watch "+what+" yet; trying again in the background: until then "+meanwhile,
			slog.String(keyError, err.Error()))
	}
	go func() {
		bo := retry.New(time.Second, 30*time.Second, 0)
		for {
			if updates != nil {
				follow(updates)
			}
			if ctx.Err() != nil {
				return
			}
			if bo.Wait(ctx) != nil {
				return
			}
			var err error
			if updates, err = open(ctx); err != nil {
				w.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot watch "+what+" yet; trying again",
					slog.String(keyError, err.Error()))
			}
		}
	}()
}

// openCancels opens the watch and reads the stored records into the
// worker's set; it returns the watch's updates.
func (w *Worker) openCancels(ctx context.Context) (<-chan jetstream.KeyValueEntry, error) {
	octx, cancel := context.WithTimeout(ctx, cancelWatchTimeout)
	defer cancel()
	if _, err := w.cancels.store.Open(octx, true); err != nil {
		return nil, err
	}
	watch, err := w.cancels.store.Watch(ctx) // lives until the worker stops
	if err != nil {
		return nil, err
	}
	var cs []wire.Cancel
	updates, err := storedRecords(octx, watch, "cancel", func(e jetstream.KeyValueEntry) {
		if c, ok := w.cancelOf(e); ok {
			cs = append(cs, c)
		}
	})
	if err != nil {
		return nil, err
	}
	w.cancels.add(cs...)
	for _, c := range cs {
		w.cancelRunning(c.ID) // cancelled while the watch was down
	}
	return updates, nil
}

// storedRecords passes take each record watch sends before the nil entry
// that ends the stored ones, and returns the watch's updates that follow.
// octx bounds the read; a read that fails stops the watch. what names the
// records in the error.
func storedRecords(octx context.Context, watch jetstream.KeyWatcher, what string,
	take func(jetstream.KeyValueEntry)) (<-chan jetstream.KeyValueEntry, error) {
	for {
		select {
		case <-octx.Done():
			_ = watch.Stop()
			return nil, fmt.Errorf("read the %s records: %w", what, octx.Err())
		case e, ok := <-watch.Updates():
			if !ok {
				return nil, fmt.Errorf("read the %s records: the watch ended", what)
			}
			if e == nil { // every stored record was sent
				return watch.Updates(), nil
			}
			take(e)
		}
	}
}

// followCancels adds the records the watch sends to the worker's set and
// cancels the handlers running their tasks, until the watch ends.
func (w *Worker) followCancels(updates <-chan jetstream.KeyValueEntry) {
	for e := range updates {
		if c, ok := w.cancelOf(e); ok {
			w.cancels.add(c) // before the look-up of running tasks; see cancelWatch
			w.cancelRunning(c.ID)
		}
	}
}

// cancelOf reads the cancel record of e, logging one that cannot be read.
func (w *Worker) cancelOf(e jetstream.KeyValueEntry) (wire.Cancel, bool) {
	if e == nil || e.Operation() != jetstream.KeyValuePut {
		return wire.Cancel{}, false
	}
	c, err := wire.DecodeCancel(e.Value())
	if err != nil {
		w.log.LogAttrs(w.baseCtx, slog.LevelWarn, "jetq: skipped a cancel record that cannot be read",
			slog.String("key", e.Key()), slog.String(keyError, err.Error()))
		return wire.Cancel{}, false
	}
	return c, true
}
