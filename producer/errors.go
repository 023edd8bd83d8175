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
	// ErrRetryable is wrapped by every error after which the same enqueue,
	// tried again later, may succeed: [ErrQueueFull] and [ErrUnavailable]
	// wrap it. Retry with the task's ID (Result.ID, through [WithID]): within
	// the work stream's deduplication window the server then stores the
	// task once, however many of the tries reached it.
	ErrRetryable = errors.New("producer: retryable")
	// ErrQueueFull is wrapped when the work stream has reached its message or
	// byte limit, or the server its storage limit, and refuses new tasks. The
	// task was not enqueued; retry later, once workers have caught up. It
	// wraps [ErrRetryable].
	ErrQueueFull error = &retryable{"producer: queue is full"}
	// ErrUnavailable is wrapped when the work stream could not be reached,
	// or could not store the task, within the retry timeout
	// ([WithRetryTimeout]) while the cluster failed over or was cut apart.
	// The message says which: the stream's leader cannot reach its peers
	// (the task is not stored yet), no leader of the stream answers (not
	// stored), or no acknowledgement came (the task may be stored). It wraps
	// [ErrRetryable] and the last error from the server.
	ErrUnavailable error = &retryable{"producer: work stream unavailable"}
	// ErrUnsupported is wrapped when a call needs a feature the server does
	// not have, such as delayed tasks on a server older than 2.14; the error
	// names the version needed. Nothing was enqueued.
	ErrUnsupported = errors.New("producer: not supported by this server")
)

// retryable is a sentinel of the [ErrRetryable] family.
type retryable struct{ msg string }

func (e *retryable) Error() string { return e.msg }
func (e *retryable) Unwrap() error { return ErrRetryable }

// BatchError is returned by [EnqueueBatch] when some tasks were not enqueued.
// Each [Result] says which; Unwrap returns one error of each kind seen, so
// errors.Is(err, ErrQueueFull) and errors.Is(err, ErrRetryable) work on the
// batch (true when any task failed so).
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
