package consumer

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// trackRunning records that j's tracked task is running and returns the
// handler's ctx with its progress reporter. What the attempt ends as is
// recorded by the settlement itself ([Worker.recordOutcome]), whoever
// settles: the handler's return, or the heartbeat abandoning a handler that
// overran its deadline or a stop.
func (w *Worker) trackRunning(ctx context.Context, j *job) context.Context {
	rep := &progress{w: w, st: statusstore.Of(j.env)}
	rep.st.State = status.Running
	j.progress.Store(rep)
	w.putState(ctx, rep.st)
	return tasks.WithProgressReporter(ctx, rep)
}

// recordOutcome records what the settlement o made of a tracked task's
// attempt. Records are advisory: a failed write is logged and the task goes
// on. Later progress reports of an abandoned handler are not recorded.
func (w *Worker) recordOutcome(ctx context.Context, j *job, o tasks.Outcome) {
	rep := j.progress.Load()
	if rep == nil {
		return // not tracked, or settled before its handler began
	}
	rep.mu.Lock()
	defer rep.mu.Unlock()
	rep.final = true
	st := rep.st
	switch o.Action {
	case tasks.ActionAck:
		st.State = status.Done
	case tasks.ActionRetry:
		st.State, st.NextAttemptAt = status.Retrying, time.Now().Add(o.Delay).UTC()
	case tasks.ActionDeadLetter:
		st.State, st.Reason = status.DeadLettered, o.Reason
	case tasks.ActionRelease:
		st.State = status.Queued
	case tasks.ActionExpire:
		st.State = status.Expired
	default:
		return
	}
	if o.Err != nil {
		st.Error = o.Err.Error()
	}
	w.putState(ctx, st)
}

func (w *Worker) putState(ctx context.Context, st status.Status) {
	if err := w.states.Put(context.WithoutCancel(ctx), st); err != nil {
		w.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot record task state",
			slog.String(keyID, st.ID), slog.String(keyError, err.Error()))
	}
}

// progress is the [tasks.ProgressReporter] of one running task. mu is held
// across each write, so a progress report never lands after the attempt's
// final record.
type progress struct {
	w     *Worker
	mu    sync.Mutex
	st    status.Status
	final bool // the attempt's outcome is recorded: no more reports
}

func (p *progress) ReportProgress(ctx context.Context, percent float64, note string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.final {
		return nil
	}
	p.st.Progress = &status.Progress{Percent: percent, Note: note}
	return p.w.states.Put(ctx, p.st)
}
