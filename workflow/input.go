package workflow

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/tasks"
)

// Input returns the result of the single parent of the running step,
// decoded into R. It returns an error wrapping [ErrNoInput] outside a
// step's handler and for a step without exactly one parent.
func Input[R any](ctx context.Context) (R, error) {
	var v R
	in := flow.InputsFrom(ctx)
	if in == nil {
		return v, fmt.Errorf("%w: the handler is not running a workflow step", ErrNoInput)
	}
	if len(in.Deps) != 1 {
		return v, fmt.Errorf("%w: step %q has %d parents; read them with Results or ParentResult", ErrNoInput, in.Step, len(in.Deps))
	}
	return decode[R](in, in.Deps[0])
}

// Results returns the results of the running step's parents, in the order
// of its dependencies (a chord's callback: member order). It returns an
// error wrapping [ErrNoInput] outside a step's handler.
func Results[R any](ctx context.Context) ([]R, error) {
	in := flow.InputsFrom(ctx)
	if in == nil {
		return nil, fmt.Errorf("%w: the handler is not running a workflow step", ErrNoInput)
	}
	out := make([]R, len(in.Deps))
	for i, dep := range in.Deps {
		v, err := decode[R](in, dep)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// ParentResult returns the result of the running step's parent named
// step. It returns an error wrapping [ErrNoInput] outside a step's handler
// and for a step that is not a parent of the running one.
func ParentResult[R any](ctx context.Context, step string) (R, error) {
	var v R
	in := flow.InputsFrom(ctx)
	if in == nil {
		return v, fmt.Errorf("%w: the handler is not running a workflow step", ErrNoInput)
	}
	if _, ok := in.Results[step]; !ok {
		return v, fmt.Errorf("%w: step %q is not a parent of step %q (its parents: %v)", ErrNoInput, step, in.Step, in.Deps)
	}
	return decode[R](in, step)
}

// decode decodes parent's result into R: JSON, or the bytes as they are
// for R = []byte.
func decode[R any](in *flow.Inputs, parent string) (R, error) {
	var v R
	res := in.Results[parent]
	if raw, ok := any(&v).(*[]byte); ok {
		*raw = res.Data
		return v, nil
	}
	if res.Data == nil {
		return v, fmt.Errorf("%w: step %q returned no result; give its task a result type with tasks.DefineResult", ErrNoInput, parent)
	}
	if ct := res.ContentType; ct != "" && ct != tasks.JSON.ContentType() {
		return v, fmt.Errorf("workflow: the result of step %q is %s; Input, Results and ParentResult decode JSON only (read it as []byte)", parent, ct)
	}
	if err := json.Unmarshal(res.Data, &v); err != nil {
		return v, fmt.Errorf("workflow: the result of step %q does not decode into %T: %w", parent, v, err)
	}
	return v, nil
}
