package inspect

import (
	"context"
	"errors"
	"fmt"

	"github.com/jetq/jetq/status"
)

// Status returns the status of the tracked task with ID id now
// (tasks.WithStateTracking). It creates no status bucket. It returns an
// error wrapping [ErrNotFound] and status.ErrNotFound when none is
// recorded: the ID is unknown, the definition does not track state, or the
// record expired after status.TTL.
func (in *Inspector) Status(ctx context.Context, id string) (status.Status, error) {
	st, _, err := in.states.Read(ctx, id)
	return st, statusError(err)
}

// WaitStatus blocks until the task with ID id is final (done,
// dead-lettered, expired or cancelled: status.State.Final) and returns its
// final status. It may be called right after enqueueing: the producer
// records a tracked task as queued before Enqueue returns. A task with no
// status when WaitStatus is called — an unknown ID, a definition without
// tasks.WithStateTracking, a record expired — makes it return at once with
// an error wrapping [ErrNotFound] and status.ErrNotFound instead of
// blocking until ctx ends. When ctx ends first it returns the last status
// seen and ctx's error.
func (in *Inspector) WaitStatus(ctx context.Context, id string) (status.Status, error) {
	st, err := in.states.Wait(ctx, id)
	return st, statusError(err)
}

func statusError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, status.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("inspect: status: %w", err)
}
