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

// Prepare reads what the worker needs before it runs the step whose task
// has header h: whether its workflow was cancelled with the step unrun, in
// which case the step must be settled cancelled without running, and
// otherwise its parents' results. One read of the workflow's record, and
// one of each parent's result. A step whose workflow's record is gone runs
// with no inputs.
func (r *Runner) Prepare(ctx context.Context, h tasks.Header) (in *Inputs, cancelled bool, err error) {
	id, name := h.Get(wire.HeaderWorkflow), h.Get(wire.HeaderStep)
	in = &Inputs{Workflow: id, Step: name, Results: map[string]Input{}}
	kv, err := r.kv(ctx)
	if err != nil {
		return nil, false, err
	}
	rec, _, err := read(ctx, kv, id)
	if err != nil {
		if isNotFound(err) {
			return in, false, nil
		}
		return nil, false, err
	}
	st := rec.step(name)
	if st == nil {
		return in, false, nil
	}
	if rec.State == Cancelled && st.State == status.Cancelled {
		return in, true, nil
	}
	in.Deps = st.Deps
	for _, dep := range st.Deps {
		p := rec.step(dep)
		if p == nil {
			continue
		}
		data, err := r.result(ctx, kv, id, p)
		if err != nil {
			return nil, false, fmt.Errorf("flow: inputs of step %q: %w", name, err)
		}
		in.Results[dep] = Input{Data: data, ContentType: p.ResultType}
	}
	return in, false, nil
}
