package inspect

import (
	"fmt"
	"slices"
	"time"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// Order is the order in which [Inspector.DeadLetters] returns records.
// The zero Order is [OldestFirst].
type Order int

// The orders of [DeadLetterFilter.Order].
const (
	// OldestFirst lists records in the order they were filed. The default.
	OldestFirst Order = iota
	// NewestFirst lists the most recent records first.
	NewestFirst
)

// DefaultDeadLetterLimit is how many records [Inspector.DeadLetters]
// returns when DeadLetterFilter.Limit is 0.
const DefaultDeadLetterLimit = 100

// DeadLetterFilter selects dead-letter records. Its conditions add up; the
// zero DeadLetterFilter selects every record, of which
// [Inspector.DeadLetters] returns the oldest [DefaultDeadLetterLimit].
type DeadLetterFilter struct {
	// Task and Queue select the records of one task name, of one queue, or
	// both. They are matched by the server on the record's subject
	// (<prefix>.dlq.<queue>.<task>): records of other tasks are not read.
	Task, Queue string
	// ID selects the records of one task ID. A record's subject does not
	// name it, so the records are read and matched one by one; give Task
	// and Queue too when they are known.
	ID string
	// Reason selects the records filed for one reason.
	Reason tasks.Reason
	// Since and Until bound when records were filed ([DeadLetter.FailedAt]),
	// both inclusive; zero means unbounded. They also narrow the read to
	// the records the server stored from 15 minutes before Since to 15
	// minutes after Until, so a record whose filer's clock was off by more
	// than that may be missed.
	Since, Until time.Time
	// Limit bounds how many records DeadLetters returns: 0 means
	// [DefaultDeadLetterLimit], -1 no limit. ReplayDeadLetters and
	// PurgeDeadLetters ignore it.
	Limit int
	// Order is the order of DeadLetters' results and the direction of After.
	Order Order
	// MaxRead bounds how many records [Inspector.DeadLetterPage] reads to fill
	// its page, so a filter that matches few of many records answers in
	// bounded time; 0 means no bound. The other methods ignore it.
	MaxRead int
	// After continues a listing past a record: pass the Seq of the last
	// entry of the previous page, with the same filter otherwise. Records
	// after it in the chosen order are selected — greater sequences for
	// OldestFirst, smaller for NewestFirst — so records filed or removed
	// between two pages neither shift nor repeat the pages. 0 starts at
	// the beginning. ReplayDeadLetters and PurgeDeadLetters apply it too.
	After uint64
}

var dlReasons = []tasks.Reason{tasks.ReasonPermanent, tasks.ReasonMaxAttempts, tasks.ReasonMaxDeliveries, tasks.ReasonInvalidPayload, tasks.ReasonInvalidResult, tasks.ReasonTimeout}

func (f DeadLetterFilter) validate() error {
	if f.Task != "" {
		if err := tasks.ValidateName(f.Task); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
	}
	if f.Queue != "" {
		if err := tasks.ValidateQueue(f.Queue); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
	}
	switch {
	case f.Reason != "" && !slices.Contains(dlReasons, f.Reason):
		return fmt.Errorf("%w: reason %q is none of %v", ErrInvalidQuery, f.Reason, dlReasons)
	case f.MaxRead < 0:
		return fmt.Errorf("%w: max read must be 0 or positive, got %d", ErrInvalidQuery, f.MaxRead)
	case f.Limit < -1:
		return fmt.Errorf("%w: limit must be -1, 0 or positive, got %d", ErrInvalidQuery, f.Limit)
	case f.Order != OldestFirst && f.Order != NewestFirst:
		return fmt.Errorf("%w: unknown order %d", ErrInvalidQuery, f.Order)
	case !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since):
		return fmt.Errorf("%w: until %v is before since %v", ErrInvalidQuery, f.Until, f.Since)
	}
	return nil
}

func (f DeadLetterFilter) limit() int {
	if f.Limit == 0 {
		return DefaultDeadLetterLimit
	}
	return f.Limit
}

// subject is the narrowest subject that holds every record the filter selects.
func (f DeadLetterFilter) subject(n wire.Names) string {
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
func (f DeadLetterFilter) bySubjectOnly() bool {
	return f.ID == "" && f.Reason == "" && f.Since.IsZero() && f.Until.IsZero() && f.After == 0
}

// match reports whether the filter selects e, whose subject matched already.
func (f DeadLetterFilter) match(e DeadLetter) bool {
	switch {
	case f.ID != "" && e.ID != f.ID:
		return false
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
