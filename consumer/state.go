package consumer

import (
	"context"
	"errors"
	"fmt"
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
	if rep.final {
		return // its final record is written already (keepFinal)
	}
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
	case tasks.ActionSnooze:
		// A delayed task again, due then; the attempt that snoozed is not spent.
		st.State, st.RunAt, st.Attempt = status.Scheduled, time.Now().Add(o.Delay).UTC(), st.Attempt-1
	case tasks.ActionExpire:
		st.State = status.Expired
	case tasks.ActionCancel:
		st.State = status.Cancelled
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

// finalTimeout bounds the write of a final record, so that a frozen status
// bucket holds a slot for that long at most.
const finalTimeout = 5 * time.Second

// redoDelay is how soon a task whose final record could not be written is
// delivered again, to be redone.
const redoDelay = 2 * time.Second

// keepFinal records, for a task type that keeps its outcome
// (tasks.WithRetention), the final outcome o of j's task in one write
// with the server-side TTL of the retention, before the task is
// acknowledged or terminated: a crash after it leaves a record that a
// redelivery finds (see doneAlready). It reports whether the caller goes
// on to settle the task. A result task whose record cannot be written is
// not settled: keepFinal hands it back with a short delay, so that it is
// redone, and reports false. For a task without a result a failed write is
// logged and the task settled anyway, as a tracked task's records are.
func (w *Worker) keepFinal(ctx context.Context, j *job, o tasks.Outcome) bool {
	spec := j.route.spec
	if spec.Retention <= 0 || j.kept {
		return true
	}
	was, _ := j.step(stateRecording) // heartbeated meanwhile, settled as it is
	err := w.writeFinal(ctx, j, o)
	if err == nil {
		j.step(was)
		j.kept = true
		return true
	}
	if spec.ResultType == "" {
		j.step(was)
		w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot record the task's final status", slog.String(keyError, err.Error()))
		return true
	}
	j.step(stateSettling)
	w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot record the task's result; handing it back to be redone",
		slog.Duration(keyDelay, redoDelay), slog.String(keyError, err.Error()))
	redo := tasks.Outcome{Action: tasks.ActionRetry, Delay: redoDelay, Err: fmt.Errorf("record final status: %w", err)}
	w.applied(ctx, j, redo, j.msg.NakWithDelay(redoDelay))
	return false
}

// writeFinal writes the final record of j's task, settled as o: its
// tracked status, if any, made final, or a record of its own.
func (w *Worker) writeFinal(ctx context.Context, j *job, o tasks.Outcome) error {
	spec := j.route.spec
	var started time.Time
	if ns := j.started.Load(); ns != 0 && o.Action != tasks.ActionExpire {
		started = time.Unix(0, ns)
	}
	st := statusstore.Of(j.env)
	rep := j.progress.Load()
	if rep != nil {
		rep.mu.Lock() // held over the write: no progress report lands after it
		defer rep.mu.Unlock()
		st = rep.st
	}
	st = statusstore.Final(st, j.env, o, started, spec.Codec.ContentType())
	if j.ran != 0 {
		st.Attempt = j.ran // as the dead-letter record a redelivery found counts them
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalTimeout)
	defer cancel()
	err := w.states.Final(fctx, st, spec.Retention)
	if err == nil && rep != nil {
		rep.final = true // recorded: recordOutcome writes nothing more
	}
	return err
}

// doneAlready settles a redelivered task of a type that keeps its outcome
// whose record says it is done already, without running its handler
// again: a worker wrote the record and stopped before its
// acknowledgement reached the server. It settles j through apply, as any
// acknowledgement, so the follow-ups of a task that has them (callbacks,
// workflow steps) run on the way, with the recorded result in env.Result:
// the worker that wrote the record may have stopped before they ran. It
// reports whether it settled j. Only redeliveries pay the look-up; one
// that fails lets the task run.
func (w *Worker) doneAlready(ctx context.Context, j *job) bool {
	env := j.env
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalTimeout)
	defer cancel()
	st, _, err := w.states.Read(lctx, env.ID)
	if errors.Is(err, status.ErrNotFound) {
		return false
	}
	if err == nil && (st.State != status.Done || !st.EnqueuedAt.Equal(env.EnqueuedAt)) {
		return false // not done, or the record of another task with this ID
	}
	var res []byte
	if err == nil {
		res, err = w.states.Result(lctx, st)
	}
	if err != nil {
		w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot tell whether the redelivered task is done already; running it",
			slog.String(keyError, err.Error()))
		return false
	}
	o := tasks.Outcome{Action: tasks.ActionAck}
	if !j.claim(o) {
		return true // settled meanwhile: a forced stop handed it back
	}
	env.Result, j.kept = res, true
	w.logTask(ctx, j, slog.LevelInfo, "jetq: redelivered task is done already; acknowledging it without running it again")
	w.apply(ctx, j, o)
	return true
}
