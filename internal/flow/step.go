package flow

import (
	"context"

	"github.com/jetq/jetq/tasks"
)

// isStep reports whether h is the header of a workflow step.
func isStep(h tasks.Header) bool { return false }

// step does a workflow step's bookkeeping after its settlement s.
func (r *Runner) step(ctx context.Context, s Settlement) error { return nil }
