package inspect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// Result waits until task id of def is final and returns its result. It
// wakes on a watch of the task's status record, never a poll, and works
// from any process: the worker writes the record, result included, before
// it acknowledges the task. A result too large for the record is read from
// the results object store.
//
// A task that did not succeed returns an error *tasks.FailureError (match
// it with errors.As) with its state, reason, error and attempts:
// dead-lettered, expired or cancelled. A dead-lettered task replayed
// later can succeed then: call Result again. A task cancelled or
// dead-lettered by the forwarder has its record when its type's durable
// consumer records the retention, which a worker serving it does.
//
// A task with no record yet is waited for until ctx is done, since a task
// still queued or running has none: give ctx a deadline. The error then
// wraps both ctx's error and [ErrNotFound]: the task may not have settled
// yet, or have an unknown ID, or have settled longer ago than the
// definition's retention, whose record the server has deleted — a record
// cannot tell those apart. Result creates the status bucket when it is
// missing, so that it can be watched.
func Result[T, R any](ctx context.Context, in *Inspector, def *tasks.ResultDefinition[T, R], id string) (R, error) {
	var v R
	if err := def.Check(); err != nil {
		return v, fmt.Errorf("%w: %w", ErrInvalidQuery, err)
	}
	st, err := in.states.WaitFinal(ctx, id)
	if err != nil {
		return v, resultError(def.Name(), id, err)
	}
	switch st.State {
	case status.Done:
	case status.DeadLettered, status.Expired, status.Cancelled:
		return v, (&tasks.Failure{
			ID: st.ID, Task: st.Task, Queue: st.Queue, State: string(st.State), Reason: st.Reason,
			Error: st.Error, Attempts: st.Attempt, At: settledAt(st),
		}).Err()
	}
	if st.Task != def.Name() {
		return v, fmt.Errorf("%w: task %q is a %s, not a %s", ErrNotFound, id, st.Task, def.Name())
	}
	if st.ResultSize == 0 && st.ResultRef == "" {
		return v, fmt.Errorf("%w: task %q is done, but its record holds no result: was it run by a worker with a plain definition of %s?",
			ErrNotFound, id, def.Name())
	}
	b, err := in.states.Result(ctx, st)
	if err != nil {
		return v, resultError(def.Name(), id, err)
	}
	return def.DecodeResult(b)
}

// settledAt is when the task st records settled: its FinishedAt, or, for
// a record of a type that tracks its status and keeps no outcome, when the
// record was written, which is when the task ended.
func settledAt(st status.Status) time.Time {
	if !st.FinishedAt.IsZero() {
		return st.FinishedAt
	}
	return st.UpdatedAt
}

func resultError(task, id string, err error) error {
	switch {
	case errors.Is(err, status.ErrNotFound):
		return fmt.Errorf("%w: result of %s %q: %w", ErrNotFound, task, id, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("inspect: result of %s %q: %w", task, id, err)
}
