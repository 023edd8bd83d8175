package inspect

import (
	"context"
	"time"
)

// WorkflowInfo is a workflow and its steps, as [Inspector.Workflow]
// returns it.
type WorkflowInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// State is "running", "succeeded", "failed" or "cancelled".
	State     string         `json:"state"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at,omitzero"`
	Steps     []WorkflowStep `json:"steps"`
}

// WorkflowStep is one step of a [WorkflowInfo].
type WorkflowStep struct {
	Name  string `json:"name"`
	Task  string `json:"task"`
	Queue string `json:"queue"`
	// TaskID is the ID of the step's task (for Find, Status, Result).
	TaskID string   `json:"task_id"`
	Deps   []string `json:"deps,omitempty"`
	// State is a task status state, or "waiting" (a parent has not
	// succeeded yet) or "unreachable" (a parent failed for good).
	State      string    `json:"state"`
	Attempts   int       `json:"attempts,omitempty"`
	ResultSize int       `json:"result_size,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Workflow returns workflow id with each step's state. An unknown id is
// ErrNotFound.
func (in *Inspector) Workflow(ctx context.Context, id string) (WorkflowInfo, error) {
	return WorkflowInfo{}, errUnbuilt
}

// CancelWorkflow cancels workflow id: its steps not enqueued yet never
// run, its queued steps are dropped unrun, and its running steps finish.
// It returns how many steps it cancelled. An unknown id is ErrNotFound; a
// workflow that has finished is ErrMovedOn.
func (in *Inspector) CancelWorkflow(ctx context.Context, id string) (int, error) {
	return 0, errUnbuilt
}
