package inspect

import (
	"context"
	"fmt"
)

// FindDeadLetters returns the dead-letter records of the task with ID id
// that f selects, oldest first (the newest is last), as
// [Inspector.DeadLetter] returns them: a truncated record's entry has its
// original's payload and headers. A task has several records when it was
// dead-lettered again after a replay, or enqueued again with the same ID
// after it was dead-lettered. f.Limit and f.Order are ignored; f.After
// applies oldest first.
//
// A record's subject names the task's queue and name, not its ID, so
// FindDeadLetters reads every record f selects, about 256 per request, and
// matches the Jetq-Id header of each: the zero DeadLetterFilter reads the
// whole dead-letter stream; with f.Task and f.Queue set, the server reads
// just that task's subject, and f.Since narrows the read to a time range.
// [Inspector.Find] reads the newest records only, within a bound.
//
// It returns an empty slice and no error when no record has that ID or no
// dead-letter stream exists, and an error wrapping [ErrInvalidQuery] for an
// empty id or an invalid filter.
func (in *Inspector) FindDeadLetters(ctx context.Context, id string, f DeadLetterFilter) ([]DeadLetter, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty task ID", ErrInvalidQuery)
	}
	f.Order, f.Limit = OldestFirst, -1
	var out []DeadLetter
	err := in.scanDeadLetters(ctx, f, OldestFirst, func(_ *dlReader, e DeadLetter) (bool, error) {
		if e.ID == id {
			out = append(out, e)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	for i, e := range out {
		if e.Truncated {
			if out[i], err = in.restoreDeadLetter(ctx, e); err != nil {
				return nil, err
			}
		}
	}
	if out == nil {
		out = []DeadLetter{}
	}
	return out, nil
}
