package inspect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/status"
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

// Workflow returns workflow id (workflow.Run.ID) with each step's state,
// as the workflow's record in the workflow bucket says it: the bucket's
// stream info (so that reading creates no bucket) and one get. An
// empty id returns an error wrapping [ErrInvalidQuery]; an unknown id, or
// a workflow whose record has expired, one wrapping [ErrNotFound].
func (in *Inspector) Workflow(ctx context.Context, id string) (WorkflowInfo, error) {
	w, err := in.loadWorkflow(ctx, id)
	if err != nil {
		return WorkflowInfo{}, err
	}
	return workflowInfo(w), nil
}

// loadWorkflow reads workflow id's record; an empty id is refused with
// [ErrInvalidQuery]. A deployment that never started a workflow has no
// workflow bucket, and reading creates none.
func (in *Inspector) loadWorkflow(ctx context.Context, id string) (flow.Workflow, error) {
	if strings.TrimSpace(id) == "" {
		return flow.Workflow{}, fmt.Errorf("%w: the workflow ID is empty: give the ID workflow.Start returned", ErrInvalidQuery)
	}
	st, err := in.stream(ctx, "KV_"+in.names.WorkflowsBucket())
	if err != nil {
		return flow.Workflow{}, err
	}
	if st == nil {
		return flow.Workflow{}, fmt.Errorf("inspect: workflow %q: %w (no workflow was started on this deployment)", id, ErrNotFound)
	}
	w, err := in.flows.Load(ctx, id)
	if err != nil {
		return flow.Workflow{}, workflowError(id, err)
	}
	return w, nil
}

// CancelWorkflow cancels workflow id: its steps not enqueued yet never
// run, its queued steps are dropped unrun (their status reads cancelled),
// and its running steps finish. A failed workflow can be cancelled too, so
// that replaying its failed step from the dead-letter stream does not
// resume it. It returns how many steps it cancelled. An empty id returns
// an error wrapping [ErrInvalidQuery]; an unknown id one wrapping
// [ErrNotFound]; a workflow that has succeeded or was cancelled before one
// wrapping [ErrMovedOn], and nothing changes.
func (in *Inspector) CancelWorkflow(ctx context.Context, id string) (int, error) {
	w, err := in.loadWorkflow(ctx, id)
	if err != nil {
		return 0, err
	}
	if !cancellable(w.State) {
		return 0, fmt.Errorf("inspect: workflow %q is %s: %w", id, w.State, ErrMovedOn)
	}
	n, err := in.flows.Cancel(ctx, id)
	if errors.Is(err, flow.ErrFinished) {
		// It succeeded or was cancelled between the read and the cancel.
		return 0, fmt.Errorf("inspect: %w: %w", ErrMovedOn, err)
	}
	if err != nil {
		return 0, workflowError(id, err)
	}
	return n, nil
}

// Cancellable reports whether [Inspector.CancelWorkflow] can cancel w:
// while it runs, and once it failed; not once it succeeded or was
// cancelled.
func (w WorkflowInfo) Cancellable() bool { return cancellable(flow.WorkflowState(w.State)) }

func cancellable(s flow.WorkflowState) bool { return s == flow.Running || s == flow.Failed }

// workflowError is err of the workflow runner about workflow id, as this
// package's errors say it.
func workflowError(id string, err error) error {
	switch {
	case errors.Is(err, status.ErrNotFound):
		return fmt.Errorf("inspect: workflow %q: %w (%w)", id, ErrNotFound, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("inspect: workflow %q: %w", id, err)
}

// workflowInfo is w as this package shows it.
func workflowInfo(w flow.Workflow) WorkflowInfo {
	out := WorkflowInfo{ID: w.ID, Name: w.Name, State: string(w.State), CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
		Steps: make([]WorkflowStep, len(w.Steps))}
	for i, s := range w.Steps {
		out.Steps[i] = WorkflowStep{Name: s.Name, Task: s.Task, Queue: s.Queue, TaskID: s.TaskID, Deps: s.Deps, State: string(s.State),
			Attempts: s.Attempts, ResultSize: s.ResultSize, Reason: s.Reason, Error: s.Error, StartedAt: s.StartedAt, FinishedAt: s.FinishedAt}
	}
	return out
}
