package tasks

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrInvalidName is wrapped by errors about task and queue names.
	ErrInvalidName = errors.New("tasks: invalid name")
	// ErrInvalidOption is wrapped by errors about out-of-range options.
	ErrInvalidOption = errors.New("tasks: invalid option")
	// ErrInvalidPayload is wrapped by errors about payloads that do not encode,
	// decode or validate. At enqueue it refuses the task; at the worker it
	// dead-letters the task with reason invalid_payload, without retries.
	ErrInvalidPayload = errors.New("tasks: invalid payload")
	// ErrDuplicateHandler is returned by [Handle] for a task name that already
	// has a handler in the registry.
	ErrDuplicateHandler = errors.New("tasks: duplicate handler")
	// ErrCancelled is the cause of a running handler's ctx when its task is
	// cancelled (inspect's Cancel): context.Cause(ctx) returns it, and
	// whatever error the handler then returns settles the task as
	// cancelled, not retried and not dead-lettered.
	ErrCancelled = errors.New("tasks: task cancelled")
)

// PermanentError marks a failure that retrying cannot fix. See [Permanent].
type PermanentError struct {
	Err error
}

// Permanent wraps err so that the worker dead-letters the task at once with
// reason permanent, without further attempts. A nil err is reported as
// "permanent failure".
func Permanent(err error) error {
	if err == nil {
		err = errors.New("permanent failure")
	}
	return &PermanentError{Err: err}
}

// Error returns the wrapped error's text.
func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err, or an error it wraps, came from [Permanent].
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// RetryAfterError asks for the next attempt after exactly Delay. See [RetryAfter].
type RetryAfterError struct {
	Delay time.Duration
	Err   error
}

// RetryAfter wraps err so that the worker retries the task after exactly d,
// instead of the definition's backoff, when attempts remain; on the last
// attempt the task is dead-lettered with reason max_attempts as usual. Use it
// for rate limits and Retry-After answers. A negative d counts as 0; a nil err
// is reported as "retry requested".
func RetryAfter(d time.Duration, err error) error {
	if err == nil {
		err = errors.New("retry requested")
	}
	return &RetryAfterError{Delay: max(d, 0), Err: err}
}

// Error returns the wrapped error's text with the delay.
func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("retry after %v: %v", e.Delay, e.Err)
}

// Unwrap returns the wrapped error.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryDelay returns the delay asked for by a [RetryAfter] in err's chain.
func RetryDelay(err error) (time.Duration, bool) {
	var r *RetryAfterError
	if errors.As(err, &r) {
		return r.Delay, true
	}
	return 0, false
}

// PanicError is the error a handler's panic becomes: the task is retried like
// after any other failure, and the stack is logged and kept in its
// dead-letter record.
type PanicError struct {
	// Value is what the handler panicked with.
	Value any
	// Stack is the handler goroutine's stack at the panic.
	Stack []byte
}

// Error returns "panic: " and the panic value.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }
