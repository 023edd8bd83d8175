package consumer

import (
	"context"
	"log/slog"
	"time"

	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// followTimeout bounds each try at a settlement's follow-ups.
const followTimeout = 5 * time.Second

// afterFollow, when set, runs once the follow-ups of a settlement have run
// and before the task is settled with the server. Tests set it to kill the
// process at that point: a real worker cannot be made to die between two of
// its own statements on demand.
var afterFollow func()

// followed runs the follow-ups of o, the final settlement of j's task
// (flow.Has says it has some: callbacks, a workflow step's bookkeeping),
// before the settlement reaches the server, so that a worker that dies
// between the two leaves the task to be delivered again and the follow-ups
// to be run again (they are idempotent). It reports whether they ran; if
// not, they are tried again in the background, with the delivery held and
// heartbeated and the slot free, and then settle finishes the settlement
// there. A task whose follow-ups failed is not handed back to run again:
// its handler succeeded or failed for good already.
func (w *Worker) followed(ctx context.Context, j *job, o tasks.Outcome, settle func()) bool {
	was, _ := j.step(stateFollowing) // heartbeated meanwhile, however long it takes
	err := w.follow(ctx, j, o)
	if err == nil {
		j.step(was)
		if afterFollow != nil {
			afterFollow()
		}
		return true
	}
	w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot run the settled task's follow-ups yet; trying again in the background",
		slog.String("action", o.Action.String()), slog.String(keyError, err.Error()))
	w.active.Add(1)
	go func() {
		defer w.active.Done()
		if w.followRetry(ctx, j, o, err) {
			j.step(was)
			settle()
		}
	}()
	return false
}

// followRetry tries the follow-ups of o again, with a backoff, until they
// run; err is why the last try failed (nil: they ran). It reports whether
// they ran. Only a forced stop ends it first: the task is then handed back
// for redelivery, which runs them (and, unless its outcome is recorded, the
// handler) again.
func (w *Worker) followRetry(ctx context.Context, j *job, o tasks.Outcome, err error) bool {
	bo := retry.New(200*time.Millisecond, 10*time.Second, 0)
	for err != nil {
		if bo.Wait(w.baseCtx) != nil {
			w.logTask(ctx, j, slog.LevelError, "jetq: worker stopped before the settled task's follow-ups could run; handing the task back",
				slog.String("action", o.Action.String()), slog.String(keyError, err.Error()))
			j.step(stateSettling)
			w.applied(ctx, j, tasks.Outcome{Action: tasks.ActionRelease, Err: o.Err}, j.msg.Nak())
			return false
		}
		if err = w.follow(ctx, j, o); err != nil {
			w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot run the settled task's follow-ups yet; trying again",
				slog.String(keyError, err.Error()))
		}
	}
	return true
}

// follow makes one try at the follow-ups of o, within followTimeout, in
// the trace of ctx even when the worker is being stopped.
func (w *Worker) follow(ctx context.Context, j *job, o tasks.Outcome) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), followTimeout)
	defer cancel()
	s := settlementOf(j.env, o)
	if j.ran != 0 {
		s.Attempts = j.ran
	}
	return w.flow.After(fctx, s)
}

// settlementOf is the settlement o of the task env, as the follow-ups see it.
func settlementOf(env *tasks.Envelope, o tasks.Outcome) flow.Settlement {
	s := flow.Settlement{Env: env, Attempts: env.Attempt, Result: env.Result, At: time.Now()}
	if o.Err != nil {
		s.Error = o.Err.Error()
	}
	switch o.Action {
	case tasks.ActionAck:
		s.State = status.Done
		if s.ContentType = env.Header.Get(wire.HeaderContentType); s.ContentType == "" {
			s.ContentType = tasks.JSON.ContentType()
		}
	case tasks.ActionDeadLetter:
		s.State, s.Reason = status.DeadLettered, o.Reason
	case tasks.ActionExpire:
		s.State = status.Expired
		if o.Err == nil {
			s.Attempts-- // dropped at pickup: this delivery did not run
		}
	case tasks.ActionCancel:
		s.State = status.Cancelled
	}
	return s
}
