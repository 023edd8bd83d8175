package tasks

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/jetq/jetq/internal/schema"
)

// DefaultRetention is how long a [ResultDefinition]'s final outcome and
// result are kept unless [WithRetention] says otherwise.
const DefaultRetention = 24 * time.Hour

// MaxRetention is the longest [WithRetention] accepted: the status bucket's
// own age limit, which the server enforces on every record.
const MaxRetention = 7 * 24 * time.Hour

// MinRetention is the shortest positive [WithRetention] accepted: the
// shortest per-message TTL the server enforces.
const MinRetention = time.Second

// ReasonInvalidResult is the dead-letter reason of a task whose handler
// returned a result its definition's codec cannot encode.
const ReasonInvalidResult Reason = "invalid_result"

// ErrInvalidResult is wrapped by the error of a result that does not
// encode. The task is dead-lettered with [ReasonInvalidResult], without
// retries: running it again returns the same value.
var ErrInvalidResult = errors.New("tasks: invalid result")

// WithRetention keeps each task's final outcome (state, attempts,
// duration, error and, for a [ResultDefinition], the result) for d after it
// settles, in the status bucket, where the server deletes it when d is
// over. A task type with retention is listed in the completed-task history
// (inspect.Query with State Completed). Default: 0 (nothing kept) for
// [Define], [DefaultRetention] for [DefineResult]; at least [MinRetention]
// and at most [MaxRetention], else [Define] panics and [New] returns an
// error wrapping [ErrInvalidOption]. A result definition's retention
// cannot be 0.
func WithRetention(d time.Duration) Option {
	return func(s *Spec) { s.Retention = d }
}

// Def is what enqueues accept: a [*Definition] or a [*ResultDefinition]
// with payload type T. Only this package implements it.
type Def[T any] interface {
	Name() string
	Queue() string
	Spec() Spec
	Check() error
	Encode(v T) ([]byte, error)
	Decode(data []byte) (T, error)
	definition() *Definition[T]
}

func (d *Definition[T]) definition() *Definition[T] { return d }

// ResultDefinition declares a task type whose handler returns a value of
// type R next to its error. The value is stored with the task's final
// outcome, in one write, for the definition's retention; read it with
// inspect.Result from any process. Create one with [DefineResult] and
// register its handler with [HandleResult].
type ResultDefinition[T, R any] struct {
	*Definition[T]
}

// DefineResult is [Define] for a task that returns a result of type R. It
// panics on an invalid name or option, like Define.
func DefineResult[T, R any](name string, opts ...Option) *ResultDefinition[T, R] {
	d, err := NewResult[T, R](name, opts...)
	if err != nil {
		panic(err)
	}
	return d
}

// NewResult is [DefineResult] returning the error instead of panicking:
// an error wrapping [ErrInvalidName] or [ErrInvalidOption], as [New]. Its
// Spec's ResultType names R, and its Retention is [DefaultRetention] unless
// [WithRetention] says otherwise.
func NewResult[T, R any](name string, opts ...Option) (*ResultDefinition[T, R], error) {
	// DefaultRetention first: an explicit WithRetention overrides it.
	d, err := New[T](name, append([]Option{WithRetention(DefaultRetention)}, opts...)...)
	if err != nil {
		return nil, err
	}
	d.spec.ResultType = schema.TypeName(reflect.TypeFor[R]())
	if err := d.spec.Validate(); err != nil { // again, with its result type
		return nil, err
	}
	return &ResultDefinition[T, R]{Definition: d}, nil
}

// EncodeResult encodes a handler's result with the definition's codec. An
// error wraps [ErrInvalidResult].
func (d *ResultDefinition[T, R]) EncodeResult(v R) ([]byte, error) {
	b, err := d.spec.Codec.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: task %q: encode %s: %w", ErrInvalidResult, d.spec.Name, d.spec.ResultType, err)
	}
	return b, nil
}

// DecodeResult decodes a result encoded by [ResultDefinition.EncodeResult].
// An error wraps [ErrInvalidResult].
func (d *ResultDefinition[T, R]) DecodeResult(data []byte) (R, error) {
	var v R
	if err := d.spec.Codec.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("%w: task %q: decode %s: %w", ErrInvalidResult, d.spec.Name, d.spec.ResultType, err)
	}
	return v, nil
}

// ResultHandlerFunc handles one task of a [ResultDefinition]: it returns the
// result, or an error that settles the task like a [HandlerFunc]'s error
// (the result is then dropped).
type ResultHandlerFunc[T, R any] func(ctx context.Context, t *Task[T]) (R, error)

// HandleResult registers fn as the handler of d's tasks in r, as [Handle]
// does, with the same errors. When fn returns no error, its result is
// encoded into the delivery's [Envelope.Result], which the worker stores
// with the task's final outcome before it acknowledges the task. A result
// that does not encode fails the attempt with [Permanent] wrapping
// [ErrInvalidResult]: the task is dead-lettered with [ReasonInvalidResult],
// without retries.
func HandleResult[T, R any](r *Registry, d *ResultDefinition[T, R], fn ResultHandlerFunc[T, R]) error {
	if d == nil || d.Definition == nil {
		return fmt.Errorf("%w: result definition is nil; use tasks.DefineResult", ErrInvalidOption)
	}
	if fn == nil {
		return fmt.Errorf("%w: handler for task %q is nil", ErrInvalidOption, d.Spec().Name)
	}
	return handle(r, d.Definition, func(ctx context.Context, t *Task[T], env *Envelope) error {
		v, err := fn(ctx, t)
		if err != nil {
			return err
		}
		b, err := d.EncodeResult(v)
		if err != nil {
			return Permanent(err)
		}
		env.Result = b
		return nil
	})
}

// MustHandleResult is [HandleResult] that panics on error.
func MustHandleResult[T, R any](r *Registry, d *ResultDefinition[T, R], fn ResultHandlerFunc[T, R]) {
	if err := HandleResult(r, d, fn); err != nil {
		panic(err)
	}
}

// Failure is how a task ended when it did not succeed: dead-lettered,
// expired or cancelled. inspect.Result returns it for such a task, as a
// [*FailureError] (match that with errors.As), and it is the payload of an
// on-failure callback (producer.OnFailure).
type Failure struct {
	// ID, Task and Queue name the task that failed.
	ID    string `json:"id"`
	Task  string `json:"task"`
	Queue string `json:"queue"`
	// State is the final state: "dead_lettered", "expired" or "cancelled".
	State string `json:"state"`
	// Reason is why a dead-lettered task was dead-lettered.
	Reason Reason `json:"reason,omitempty"`
	// Error is the last error's text.
	Error string `json:"error,omitempty"`
	// Attempts is how many times the handler ran.
	Attempts int `json:"attempts"`
	// At is when the task settled.
	At time.Time `json:"at"`
}

// Err returns f as an error.
func (f *Failure) Err() error { return &FailureError{Failure: *f} }

// FailureError is the error form of a [Failure].
type FailureError struct{ Failure Failure }

// Error says which task ended how: its state, reason and last error.
func (e *FailureError) Error() string {
	f := e.Failure
	s := fmt.Sprintf("task %s %q %s", f.Task, f.ID, f.State)
	if f.Reason != "" {
		s += " (" + string(f.Reason) + ")"
	}
	if f.Error != "" {
		s += ": " + f.Error
	}
	return s
}

// HeaderParent is the header of a callback or workflow step that holds the
// ID of the task whose settlement enqueued it.
const HeaderParent = "Jetq-Parent"
