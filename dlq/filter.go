package dlq

import (
	"fmt"
	"slices"
	"time"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// Order is the order List returns records in.
type Order int

// The orders of [Filter.Order].
const (
	// OldestFirst lists records in the order they were filed. The default.
	OldestFirst Order = iota
	// NewestFirst lists the most recent records first.
	NewestFirst
)

// DefaultLimit is how many records List returns when Filter.Limit is 0.
const DefaultLimit = 100

// Filter selects records. The zero Filter selects every record; List then
// returns the oldest [DefaultLimit].
type Filter struct {
	// Task and Queue select records of one task name or queue.
	Task, Queue string
	// Reason selects records filed for one reason.
	Reason tasks.Reason
	// Since and Until bound when records were filed; zero means unbounded.
	Since, Until time.Time
	// Limit bounds how many records List returns; 0 means [DefaultLimit],
	// -1 no limit. ReplayAll and Purge ignore it.
	Limit int
	// Order is the order of List's results.
	Order Order
	// After continues a listing: only records after this sequence in the
	// chosen order — greater for OldestFirst, smaller for NewestFirst. Pass
	// the Seq of the last entry of the previous page.
	After uint64
	// HeadersOnly leaves Payload and Header out of List's entries, which
	// reads less for large records.
	HeadersOnly bool
}

var reasons = []tasks.Reason{tasks.ReasonPermanent, tasks.ReasonMaxAttempts, tasks.ReasonMaxDeliveries, tasks.ReasonInvalidPayload, tasks.ReasonTimeout}

func (f Filter) validate() error {
	if f.Task != "" {
		if err := tasks.ValidateName(f.Task); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
	}
	if f.Queue != "" {
		if err := tasks.ValidateQueue(f.Queue); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
	}
	if f.Reason != "" && !slices.Contains(reasons, f.Reason) {
		return fmt.Errorf("%w: reason %q is none of %v", ErrInvalidOption, f.Reason, reasons)
	}
	if f.Limit < -1 {
		return fmt.Errorf("%w: limit must be -1, 0 or positive, got %d", ErrInvalidOption, f.Limit)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return fmt.Errorf("%w: until %v is before since %v", ErrInvalidOption, f.Until, f.Since)
	}
	return nil
}

// subject is the narrowest subject that holds every record the filter selects.
func (f Filter) subject(n wire.Names) string {
	switch {
	case f.Task != "" && f.Queue != "":
		return n.DLQSubject(f.Queue, f.Task)
	case f.Task != "":
		return n.DLQSubject("*", f.Task)
	case f.Queue != "":
		return n.DLQSubject(f.Queue, ">")
	}
	return n.DLQSubjects()
}

// bySubjectOnly reports whether the subject alone decides the selection.
func (f Filter) bySubjectOnly() bool {
	return f.Reason == "" && f.Since.IsZero() && f.Until.IsZero() && f.After == 0
}

// match reports whether the filter selects e (the subject already matched).
func (f Filter) match(e Entry) bool {
	switch {
	case f.Reason != "" && e.Reason != f.Reason:
		return false
	case !f.Since.IsZero() && e.FailedAt.Before(f.Since):
		return false
	case !f.Until.IsZero() && e.FailedAt.After(f.Until):
		return false
	case f.After != 0 && f.Order == OldestFirst && e.Seq <= f.After:
		return false
	case f.After != 0 && f.Order == NewestFirst && e.Seq >= f.After:
		return false
	}
	return true
}
