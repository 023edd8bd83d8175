package producer

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalidOption is wrapped by errors about options given to [New],
	// [Enqueue] and [EnqueueBatch].
	ErrInvalidOption = errors.New("producer: invalid option")
	// ErrQueueFull is wrapped when the work stream has reached its message or
	// byte limit, or the server its storage limit, and refuses new tasks. The
	// task was not enqueued; retry later, once workers have caught up.
	ErrQueueFull = errors.New("producer: queue is full")
	// ErrUnsupported is wrapped when a call needs a feature the server does
	// not have, such as delayed tasks on a server older than 2.14; the error
	// names the version needed. Nothing was enqueued.
	ErrUnsupported = errors.New("producer: not supported by this server")
)

// BatchError is returned by [EnqueueBatch] when some tasks were not enqueued.
// Each [Result] says which; Unwrap returns one error of each kind seen, so
// errors.Is(err, ErrQueueFull) works on the batch.
type BatchError struct {
	// Failed is the number of tasks not enqueued, out of Total.
	Failed, Total int
	errs          []error
}

// Error summarises the failures.
func (e *BatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "producer: %d of %d tasks not enqueued", e.Failed, e.Total)
	for i, err := range e.errs {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns one error of each kind seen.
func (e *BatchError) Unwrap() []error { return e.errs }

// newBatchError keeps the first error of each distinct text, at most eight.
func newBatchError(results []Result) error {
	be := &BatchError{Total: len(results)}
	seen := map[string]bool{}
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		be.Failed++
		if msg := r.Err.Error(); !seen[msg] && len(be.errs) < 8 {
			seen[msg] = true
			be.errs = append(be.errs, r.Err)
		}
	}
	if be.Failed == 0 {
		return nil
	}
	return be
}
