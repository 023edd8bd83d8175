package tasks

import (
	"errors"
	"fmt"
	"time"
)

// MaxSnooze is the longest a handler may snooze its task: a day, as long as
// a worker remembers which message of a task runs (the claims that keep a
// snoozed task from running twice after a worker dies mid-snooze). A task
// to run later than that is a new delayed task.
const MaxSnooze = 24 * time.Hour

// HeaderSnoozed is the header that counts a task's snoozes ([Snooze]):
// "1" on its first run after a snooze, absent before any. A handler that
// should give up after some snoozes reads it from Task.Header.
const HeaderSnoozed = "Jetq-Snoozed"

// SnoozeError asks for the task to run again after Delay without spending an
// attempt. See [Snooze].
type SnoozeError struct {
	Delay time.Duration
}

// Snooze returns the error a handler returns to say "not yet, again in d":
// the worker sets the task aside for d and runs it again then, as the same
// attempt. Snoozing spends no attempt and no delivery of the server's
// MaxDeliver, however often a task snoozes, so a task that waits on
// something (a rate limit, a file not there yet, a partner's office hours)
// can snooze for as long as it needs, d at a time.
//
// The task keeps its ID, headers, payload and trace; while it waits it is a
// delayed task (inspect lists it as scheduled, with the time it runs
// again), and a tracked task's status reads scheduled with RunAt. A task
// whose deadline comes before the end of the snooze expires instead. It
// needs nats-server 2.14 or newer (delayed tasks); on an older server the
// worker retries the task after d instead, which spends an attempt.
//
// d must be more than 0 and at most [MaxSnooze]. Otherwise Snooze returns
// an error wrapping [ErrInvalidOption] that is no snooze: returned by the
// handler, it fails the attempt as any other error does (retried with the
// definition's backoff, dead-lettered on the last attempt), and the
// dead-letter record says why.
func Snooze(d time.Duration) error {
	if d <= 0 || d > MaxSnooze {
		return fmt.Errorf("%w: snooze for %v: the delay must be more than 0 and at most %v (tasks.MaxSnooze); "+
			"to run a task later than that, enqueue a new delayed one", ErrInvalidOption, d, MaxSnooze)
	}
	return &SnoozeError{Delay: d}
}

// Error says for how long the task snoozes.
func (e *SnoozeError) Error() string { return fmt.Sprintf("snoozed for %v", e.Delay) }

// SnoozeDelay returns the delay asked for by a [Snooze] in err's chain.
func SnoozeDelay(err error) (time.Duration, bool) {
	var s *SnoozeError
	if errors.As(err, &s) {
		return s.Delay, true
	}
	return 0, false
}
