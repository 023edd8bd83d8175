package consumer

import (
	"context"
	"log/slog"
	"maps"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/pausing"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/tasks"
)

// createPaused creates or updates route r's durable consumer so that a
// pause holds (inspect.Inspector.Pause; internal/pausing). The server keeps
// an existing consumer's PauseUntil, whatever the update asks. Once the
// consumer exists, before the worker pulls for it, the pauses recorded
// over it are read and the consumer paused if they say so: a new task type
// of a paused queue is paused before any worker takes its tasks (every
// worker creates the consumer before it pulls), and so is a consumer a
// pause made during its creation missed.
//
// When the pauses cannot be read for good (the worker may not read the
// bucket) the worker serves the type as the server has it, which still
// holds every pause made on an existing consumer, and logs it. A failure
// that may pass (an election, a timeout) fails the creation, which is
// tried again.
func (w *Worker) createPaused(ctx context.Context, stream string, r *route) (jetstream.Consumer, error) {
	cons, err := w.js.CreateOrUpdateConsumer(ctx, stream, r.consumer)
	if err != nil {
		return nil, err
	}
	if _, err := w.pauses.Apply(ctx, r.spec.Queue, r.spec.Name, pausing.HoldOnly); err != nil {
		if retry.Transient(err) {
			return nil, err
		}
		w.logRoute(ctx, r, slog.LevelWarn, "jetq: cannot read the pauses; serving the task type as the server has it", slog.String(keyError, err.Error()))
	}
	return cons, nil
}

// pauseSetAside is how long a task of a paused type is set aside for: its
// copy then waits in the work stream behind the paused consumer, and runs
// once the type resumes.
const pauseSetAside = 100 * time.Millisecond

// pausedNow reports whether r's task type is paused now, as the worker's
// watch of the pause records has them: one atomic load while nothing was
// ever paused.
func (w *Worker) pausedNow(r *route) bool {
	rs := w.paused.Load()
	if rs == nil {
		return false
	}
	now := time.Now()
	return rs.Until(r.spec.Queue, r.spec.Name, now).After(now)
}

// setAsidePaused sets aside j, a task of a paused type the worker holds
// already, as a snooze does: its copy waits behind the paused consumer.
func (w *Worker) setAsidePaused(ctx context.Context, j *job) {
	w.logTask(ctx, j, slog.LevelDebug, "jetq: the task's type is paused; setting the task aside", slog.Duration(keyDelay, pauseSetAside))
	w.settle(ctx, j, tasks.Snooze(pauseSetAside), false)
}

// watchPauses starts the worker's watch of the pause records and reads the
// stored ones before it returns. The server's pause of a type's consumer
// stops new deliveries; the watch stops the worker from starting the
// tasks of a paused type it holds already (prefetched, or held for their
// key, keylimit.go): run sets them aside, as a snooze does, and their
// copies wait behind the paused consumer. No attempt is spent.
func (w *Worker) watchPauses() {
	w.keepWatching("pauses", "a task of a paused type this worker holds may start", w.openPauses, w.followPauses)
}

// openPauses opens the watch and reads the stored records; it returns the
// watch's updates.
func (w *Worker) openPauses(ctx context.Context) (<-chan jetstream.KeyValueEntry, error) {
	octx, cancel := context.WithTimeout(ctx, cancelWatchTimeout)
	defer cancel()
	watch, err := w.pauses.Watch(ctx) // lives until the worker stops
	if err != nil {
		return nil, err
	}
	rs := pausing.Records{}
	updates, err := storedRecords(octx, watch, "pause", func(e jetstream.KeyValueEntry) { w.applyPause(rs, e) })
	if err != nil {
		return nil, err
	}
	w.publishPauses(rs)
	return updates, nil
}

// followPauses applies the records the watch sends, until it ends. Each
// change publishes a new copy of the records, so that pausedNow reads
// them without a lock.
func (w *Worker) followPauses(updates <-chan jetstream.KeyValueEntry) {
	for e := range updates {
		rs := pausing.Records{}
		if cur := w.paused.Load(); cur != nil {
			rs = maps.Clone(*cur)
		}
		if w.applyPause(rs, e) {
			w.publishPauses(rs)
		}
	}
}

// publishPauses makes rs the records pausedNow reads: none, nil.
func (w *Worker) publishPauses(rs pausing.Records) {
	if len(rs) == 0 {
		w.paused.Store(nil)
		return
	}
	w.paused.Store(&rs)
}

// applyPause applies e to rs, logging a record that cannot be read, and
// reports whether rs changed.
func (w *Worker) applyPause(rs pausing.Records, e jetstream.KeyValueEntry) bool {
	ok, err := rs.Apply(e)
	if err != nil {
		w.log.LogAttrs(w.baseCtx, slog.LevelWarn, "jetq: skipped a pause record that cannot be read",
			slog.String("key", e.Key()), slog.String(keyError, err.Error()))
	}
	return ok
}
