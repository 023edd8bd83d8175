package taskstest

import (
	"context"
	"time"

	"github.com/jetq/jetq/internal/settle"
	"github.com/jetq/jetq/tasks"
)

// Option configures one [Run].
type Option func(*config)

type config struct {
	attempt int
	id      string
	header  tasks.Header
	now     time.Time
}

// WithAttempt runs the handler as attempt n (1-based); default 1. Use the
// definition's MaxAttempts to see what the last attempt does.
func WithAttempt(n int) Option { return func(c *config) { c.attempt = n } }

// WithID gives the task the ID id; default "task-1".
func WithID(id string) Option { return func(c *config) { c.id = id } }

// WithHeader adds a header the handler sees in Task.Header.
func WithHeader(key, value string) Option {
	return func(c *config) { c.header.Add(key, value) }
}

// Run runs fn on payload as the worker would run one attempt of def, and
// returns the settlement the worker would apply. Outcome.Err is the
// handler's error (or the payload's, for invalid_payload).
func Run[T any](ctx context.Context, def *tasks.Definition[T], fn tasks.HandlerFunc[T], payload T, opts ...Option) tasks.Outcome {
	_, o := run(ctx, def, func(reg *tasks.Registry) error { return tasks.Handle(reg, def, fn) }, payload, opts)
	return o
}

// RunResult is [Run] for a result task: it also returns the result the
// worker would store, decoded from its encoding, when the attempt
// succeeds. A result that does not encode settles as the worker would:
// dead-lettered with reason invalid_result.
func RunResult[T, R any](ctx context.Context, def *tasks.ResultDefinition[T, R], fn tasks.ResultHandlerFunc[T, R], payload T, opts ...Option) (R, tasks.Outcome) {
	var v R
	env, o := run(ctx, def.Definition, func(reg *tasks.Registry) error { return tasks.HandleResult(reg, def, fn) }, payload, opts)
	if o.Action == tasks.ActionAck {
		var err error
		if v, err = def.DecodeResult(env.Result); err != nil {
			return v, tasks.Outcome{Action: tasks.ActionDeadLetter, Reason: tasks.ReasonInvalidResult, Err: err}
		}
	}
	return v, o
}

// run runs one attempt of def, whose handler register registers, on
// payload, and returns its envelope and settlement.
func run[T any](ctx context.Context, def *tasks.Definition[T], register func(*tasks.Registry) error, payload T, opts []Option) (*tasks.Envelope, tasks.Outcome) {
	c := config{attempt: 1, id: "task-1", header: tasks.Header{}, now: time.Now()}
	for _, opt := range opts {
		opt(&c)
	}
	spec := def.Spec()
	reg := tasks.NewRegistry()
	if err := register(reg); err != nil {
		return nil, tasks.Outcome{Action: tasks.ActionDeadLetter, Reason: tasks.ReasonInvalidPayload, Err: err}
	}
	body, err := def.Encode(payload)
	if err != nil {
		return nil, tasks.Outcome{Action: tasks.ActionDeadLetter, Reason: tasks.ReasonInvalidPayload, Err: err}
	}
	c.header.Set("Content-Type", spec.Codec.ContentType())
	env := &tasks.Envelope{
		ID: c.id, Name: spec.Name, Queue: spec.Queue, EnqueuedAt: c.now,
		Header: c.header, Body: body, Attempt: c.attempt, MaxAttempts: spec.MaxAttempts,
	}
	timedOut, err := settle.Attempt(ctx, reg.Routes()[0].Handler, env, spec.Timeout, nil)
	return env, settle.Decide(err, c.attempt, spec.MaxAttempts, timedOut, false, spec.Backoff)
}
