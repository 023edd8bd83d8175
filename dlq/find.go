package dlq

import (
	"context"
	"fmt"
)

// FindByTaskID returns the records of the task with ID id, oldest first
// (the newest is last), as [Inspector.Get] returns them: a truncated
// record's entry has its original's payload and headers. A task has several
// records when it was dead-lettered again after a replay, or enqueued again
// with the same ID after it was dead-lettered.
//
// A record's subject names the task's queue and name, not its ID, so
// FindByTaskID reads the whole dead-letter stream, about 256 records per
// request, and matches the Jetq-Id header of each; on a large stream, prefer
// [Inspector.List] with a Task, Queue or Since filter when the task's name
// or failure time is known, or [Inspector.FindByTaskIDIn] with such a
// filter.
//
// It returns an empty slice and no error when no record has that ID or no
// dead-letter stream exists, and an error wrapping [ErrInvalidOption] for an
// empty id.
func (in *Inspector) FindByTaskID(ctx context.Context, id string) ([]Entry, error) {
	return in.FindByTaskIDIn(ctx, id, Filter{})
}

// FindByTaskIDIn is [Inspector.FindByTaskID] reading only the records f
// selects (f.Limit and f.Order aside; f.After applies oldest first): with
// f.Task and f.Queue set, the server reads just that task's subject.
func (in *Inspector) FindByTaskIDIn(ctx context.Context, id string, f Filter) ([]Entry, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty task ID", ErrInvalidOption)
	}
	f.Order, f.Limit = OldestFirst, -1
	var out []Entry
	err := in.scan(ctx, f, OldestFirst, func(_ *reader, e Entry) (bool, error) {
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
			if out[i], err = in.restore(ctx, e); err != nil {
				return nil, err
			}
		}
	}
	if out == nil {
		out = []Entry{}
	}
	return out, nil
}
