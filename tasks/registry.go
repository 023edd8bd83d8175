package tasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// HandlerFunc runs one attempt of a task. It returns nil when the work is
// done, [Permanent] when retrying cannot help, [RetryAfter] to choose the next
// attempt's delay, or any other error to retry with backoff. ctx is cancelled
// when the attempt's timeout passes or the worker stops.
type HandlerFunc[T any] func(ctx context.Context, t *Task[T]) error

// Route is one registered task: its spec and the untyped handler that decodes
// the payload, validates it and calls the typed [HandlerFunc]. Workers read
// routes from a [Registry].
type Route struct {
	Spec    Spec
	Handler Handler
	// Check decodes and validates a payload as the handler does before it
	// runs, without running it; errors wrap [ErrInvalidPayload]. Workers
	// answer `jetq enqueue`'s validate requests with it.
	Check func(payload []byte) error
}

// Registry maps task names to handlers. The zero Registry is not usable; call
// [NewRegistry]. A Registry is safe for concurrent use; a worker reads it once,
// when it is created.
type Registry struct {
	mu     sync.Mutex
	routes map[string]Route
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{routes: make(map[string]Route)}
}

// Handle registers fn as the handler of d. It returns an error wrapping
// [ErrDuplicateHandler] when d's name already has a handler, and
// [ErrInvalidOption] for a nil registry, definition or function.
func Handle[T any](r *Registry, d *Definition[T], fn HandlerFunc[T]) error {
	if fn == nil {
		return fmt.Errorf("%w: handler for task %q is nil", ErrInvalidOption, d.Spec().Name)
	}
	return handle(r, d, func(ctx context.Context, t *Task[T], _ *Envelope) error { return fn(ctx, t) })
}

// handle registers fn, which also sees the delivery's envelope, as the
// handler of d: the one handler model under [Handle] and [HandleResult].
func handle[T any](r *Registry, d *Definition[T], fn func(context.Context, *Task[T], *Envelope) error) error {
	if r == nil || r.routes == nil {
		return fmt.Errorf("%w: registry is nil; use tasks.NewRegistry", ErrInvalidOption)
	}
	spec := d.Spec()
	if err := spec.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.routes[spec.Name]; ok {
		return fmt.Errorf("%w: task %q is already handled", ErrDuplicateHandler, spec.Name)
	}
	check := func(payload []byte) error { _, err := d.Decode(payload); return err }
	r.routes[spec.Name] = Route{Spec: spec, Handler: typedHandler(d, fn), Check: check}
	return nil
}

// MustHandle is [Handle] for registrations at start-up: it panics on the
// errors Handle returns.
func MustHandle[T any](r *Registry, d *Definition[T], fn HandlerFunc[T]) {
	if err := Handle(r, d, fn); err != nil {
		panic(err)
	}
}

// Routes returns the registered tasks ordered by queue, then name.
func (r *Registry) Routes() []Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Route, 0, len(r.routes))
	for _, rt := range r.routes {
		out = append(out, rt)
	}
	slices.SortFunc(out, func(a, b Route) int {
		return cmp.Or(strings.Compare(a.Spec.Queue, b.Spec.Queue), strings.Compare(a.Spec.Name, b.Spec.Name))
	})
	return out
}

// errContentType is wrapped when a message announces an encoding that is not
// the definition's.
var errContentType = errors.New("content type does not match the task's codec")

func typedHandler[T any](d *Definition[T], fn func(context.Context, *Task[T], *Envelope) error) Handler {
	want := d.spec.Codec.ContentType()
	return func(ctx context.Context, env *Envelope) error {
		if ct := env.Header.Get("Content-Type"); ct != "" && ct != want {
			return fmt.Errorf("%w: task %q: %w: got %q, want %q", ErrInvalidPayload, d.spec.Name, errContentType, ct, want)
		}
		t := &Task[T]{
			ID:          env.ID,
			Name:        env.Name,
			Queue:       env.Queue,
			Attempt:     env.Attempt,
			MaxAttempts: env.MaxAttempts,
			EnqueuedAt:  env.EnqueuedAt,
			Header:      env.Header,
		}
		if err := d.decodeInto(env.Body, &t.Payload); err != nil {
			return err
		}
		return fn(ctx, t, env)
	}
}
