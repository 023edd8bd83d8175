package inspect

import (
	"context"

	"github.com/jetq/jetq/tasks"
)

// Result waits until task id of def is final and returns its result. It
// wakes on a watch of the task's status record, never a poll, and works
// from any process. A task that did not succeed returns an error
// *tasks.FailureError (match it with errors.As) with its state, reason and
// error: dead-lettered, expired or cancelled. A task whose record is not
// there yet is waited for until ctx is done: give ctx a deadline. A result
// older than the definition's retention is gone: ErrNotFound.
func Result[T, R any](ctx context.Context, in *Inspector, def *tasks.ResultDefinition[T, R], id string) (R, error) {
	var v R
	return v, errUnbuilt
}
