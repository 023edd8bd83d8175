package consumer

import (
	"context"
	"errors"
	"log/slog"

	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// errStepCancelled is the settlement's error of a workflow step dropped
// unrun because its workflow was cancelled.
var errStepCancelled = errors.New("workflow cancelled before the step ran")

// prepareStep reads, for a workflow step's task, its parents' results into
// the handler's ctx. It settles unrun, and reports that with done, a step
// whose workflow was cancelled, and one whose success its workflow has
// recorded already, unless its type keeps its outcome (tasks.WithRetention:
// that record, not the workflow's, says whether it ran). Other tasks pay
// one header look-up. An error reading the workflow's record fails the
// attempt.
func (w *Worker) prepareStep(ctx context.Context, j *job) (_ context.Context, done bool, err error) {
	if !flow.IsStep(j.env.Header) {
		return ctx, false, nil
	}
	in, verdict, err := w.flow.Prepare(ctx, j.env.Header)
	if err != nil {
		return ctx, false, err
	}
	if verdict == flow.Done && j.route.spec.Retention == 0 {
		if o := (tasks.Outcome{Action: tasks.ActionAck}); j.claim(o) {
			w.logTask(ctx, j, slog.LevelInfo, "jetq: workflow step done already; acknowledging it unrun")
			w.apply(ctx, j, o)
		}
		return ctx, true, nil
	}
	if verdict == flow.Drop {
		o := tasks.Outcome{Action: tasks.ActionExpire, Err: errStepCancelled}
		if j.claim(o) {
			w.logTask(ctx, j, slog.LevelInfo, "jetq: workflow step dropped unrun: its workflow was cancelled")
			w.apply(ctx, j, o)
			if j.route.spec.TrackState {
				st := statusstore.Of(j.env)
				st.State, st.Error = status.Cancelled, errStepCancelled.Error()
				w.putState(ctx, st)
			}
		}
		return ctx, true, nil
	}
	return flow.WithInputs(ctx, in), false, nil
}
