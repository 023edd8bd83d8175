package flow

import (
	"context"
	"time"

	"github.com/jetq/jetq/status"
)

// WorkflowState is where a workflow stands.
type WorkflowState string

// Workflow states.
const (
	Running   WorkflowState = "running"
	Succeeded WorkflowState = "succeeded"
	Failed    WorkflowState = "failed"
	Cancelled WorkflowState = "cancelled"
)

// StepState is where a workflow step stands: the task's own status.State
// once it is enqueued, or one of the two below.
type StepState = status.State

// Step states a task status does not have.
const (
	// Waiting: a parent has not succeeded yet; the step is not enqueued.
	Waiting StepState = "waiting"
	// Unreachable: a parent failed for good; the step will not run unless
	// that parent is replayed from the dead-letter stream and succeeds.
	Unreachable StepState = "unreachable"
)

// Workflow is a workflow's record with its steps' states.
type Workflow struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	State     WorkflowState `json:"state"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at,omitzero"`
	// OnFailure names the failure callback's task ("" for none).
	OnFailure string `json:"on_failure,omitempty"`
	Steps     []Step `json:"steps"`
}

// Step is one step of a [Workflow].
type Step struct {
	Name  string `json:"name"`
	Task  string `json:"task"`
	Queue string `json:"queue"`
	// TaskID is the ID of the step's task.
	TaskID     string    `json:"task_id"`
	Deps       []string  `json:"deps,omitempty"`
	State      StepState `json:"state"`
	Attempts   int       `json:"attempts,omitempty"`
	ResultSize int       `json:"result_size,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Load reads workflow id with its steps' current states; an unknown id is
// an error wrapping status.ErrNotFound.
func (r *Runner) Load(ctx context.Context, id string) (Workflow, error) {
	return Workflow{}, errUnbuilt
}

// Cancel cancels workflow id: steps not enqueued yet never will be, and
// queued steps are settled cancelled unrun when a worker takes them;
// running steps finish. It returns how many steps it cancelled. A finished
// workflow is an error.
func (r *Runner) Cancel(ctx context.Context, id string) (int, error) {
	return 0, errUnbuilt
}
