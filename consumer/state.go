package consumer

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jetq/jetq/internal/state"
	"github.com/jetq/jetq/tasks"
)

// trackState records the status of tasks whose definition asks for it:
// running before the handler, then what the settlement made of the attempt.
// Records are advisory: a failed write is logged and the task goes on.
func (w *Worker) trackState(next tasks.Handler) tasks.Handler {
	return func(ctx context.Context, env *tasks.Envelope) error {
		rep := &progress{w: w, st: state.Of(env)}
		rep.st.State = tasks.StateRunning
		w.putState(ctx, rep.st)
		err := next(tasks.WithProgressReporter(ctx, rep), env)

		rep.mu.Lock()
		st := rep.st
		rep.mu.Unlock()
		o := env.Outcome
		switch o.Action {
		case tasks.ActionAck:
			st.State = tasks.StateDone
		case tasks.ActionRetry:
			st.State, st.NextAttemptAt = tasks.StateRetrying, time.Now().Add(o.Delay).UTC()
		case tasks.ActionDeadLetter:
			st.State, st.Reason = tasks.StateDeadLettered, o.Reason
		case tasks.ActionRelease:
			st.State = tasks.StateQueued
		default:
			return err // not settled here: abandoned, its next delivery records it
		}
		if o.Err != nil {
			st.Error = o.Err.Error()
		}
		w.putState(ctx, st)
		return err
	}
}

func (w *Worker) putState(ctx context.Context, st tasks.Status) {
	if err := w.states.Put(context.WithoutCancel(ctx), st); err != nil {
		w.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot record task state",
			slog.String(keyID, st.ID), slog.String(keyError, err.Error()))
	}
}

// progress is the [tasks.ProgressReporter] of one running task.
type progress struct {
	w  *Worker
	mu sync.Mutex
	st tasks.Status
}

func (p *progress) ReportProgress(ctx context.Context, pr tasks.Progress) error {
	p.mu.Lock()
	p.st.Progress = &pr
	st := p.st
	p.mu.Unlock()
	return p.w.states.Put(ctx, st)
}
