package flow

import (
	"context"
	"fmt"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// Input is a parent's result as a step's handler reads it.
type Input struct {
	// Data is the encoded result, nil for a parent that returned none;
	// ContentType is its codec's ("" when it returned none).
	Data        []byte
	ContentType string
}

// Inputs are the results of a running step's parents.
type Inputs struct {
	// Workflow and Step name the running step.
	Workflow, Step string
	// Deps are the step's parents in the order of its dependencies.
	Deps []string
	// Results holds each parent's result by name.
	Results map[string]Input
}

type inputsKey struct{}

// WithInputs returns ctx carrying in, for the handler of a step.
func WithInputs(ctx context.Context, in *Inputs) context.Context {
	return context.WithValue(ctx, inputsKey{}, in)
}

// InputsFrom returns the inputs ctx carries, nil outside a step's handler.
func InputsFrom(ctx context.Context) *Inputs {
	in, _ := ctx.Value(inputsKey{}).(*Inputs)
	return in
}

// IsStep reports whether a task with header h is a workflow step.
func IsStep(h tasks.Header) bool { return isStep(h) }

// Verdict is what the worker does with a delivery of a workflow step.
type Verdict uint8

const (
	// Run the step's handler, with its inputs.
	Run Verdict = iota
	// Drop the step unrun, settled cancelled: its workflow was cancelled.
	Drop
	// Done: the step's success is recorded already (its worker died
	// before the ack, or this is a second copy); settle it done unrun, and
	// the follow-ups finish what that worker left.
	Done
)

// Prepare reads what the worker needs before it runs the step whose task
// has header h: whether it is to run at all (see [Verdict]), and then its
// parents' results. One read of the workflow's record, and one of each
// parent's result. A step whose workflow's record is gone runs with no
// inputs.
func (r *Runner) Prepare(ctx context.Context, h tasks.Header) (*Inputs, Verdict, error) {
	id, name := h.Get(wire.HeaderWorkflow), h.Get(wire.HeaderStep)
	in := &Inputs{Workflow: id, Step: name, Results: map[string]Input{}}
	kv, err := r.kv(ctx)
	if err != nil {
		return nil, Run, err
	}
	rec, _, err := read(ctx, kv, id)
	if err != nil {
		if isNotFound(err) {
			return in, Run, nil
		}
		return nil, Run, err
	}
	st := rec.step(name)
	switch {
	case st == nil:
		return in, Run, nil
	case st.State == status.Done:
		return in, Done, nil
	case rec.State == Cancelled && st.State == status.Cancelled:
		return in, Drop, nil
	}
	in.Deps = st.Deps
	for _, dep := range st.Deps {
		p := rec.step(dep)
		if p == nil {
			continue
		}
		if p.State != status.Done {
			// A step is enqueued once its parents are done, and done stays.
			return nil, Run, fmt.Errorf("flow: inputs of step %q: its parent %q is %s in the record of workflow %q, which is behind the settlement that enqueued the step",
				name, dep, p.State, id)
		}
		data, err := r.result(ctx, kv, id, p)
		if err != nil {
			return nil, Run, fmt.Errorf("flow: inputs of step %q: %w", name, err)
		}
		in.Results[dep] = Input{Data: data, ContentType: p.ResultType}
	}
	return in, Run, nil
}
