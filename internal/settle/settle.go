package settle

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/jetq/jetq/tasks"
)

// Attempt runs h on env under a context that ends after timeout, turning a
// panic into a [*tasks.PanicError]. started, if not nil, is told the
// attempt's deadline before h runs. timedOut reports a failure after the
// deadline passed; the error then says so.
func Attempt(ctx context.Context, h tasks.Handler, env *tasks.Envelope, timeout time.Duration, started func(deadline time.Time)) (timedOut bool, err error) {
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if started != nil {
		dl, _ := hctx.Deadline()
		started(dl)
	}
	err = Call(hctx, h, env)
	if err != nil && errors.Is(hctx.Err(), context.DeadlineExceeded) {
		return true, fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	return false, err
}

// Call runs h on env, turning a panic into a [*tasks.PanicError]: a
// handler's or a middleware's panic fails the attempt, never the process.
func Call(ctx context.Context, h tasks.Handler, env *tasks.Envelope) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &tasks.PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return h(ctx, env)
}

// CallEnqueue runs e on batch, turning a panic into a [*tasks.PanicError]
// for each envelope: a middleware's panic fails the publish, never the
// process.
func CallEnqueue(ctx context.Context, e tasks.Enqueuer, batch []*tasks.Envelope) (errs []error) {
	defer func() {
		if v := recover(); v != nil {
			p := &tasks.PanicError{Value: v, Stack: debug.Stack()}
			errs = make([]error, len(batch))
			for i := range errs {
				errs[i] = p
			}
		}
	}()
	return e(ctx, batch)
}

// Decide maps the result of attempt number attempt (1-based) of a task
// allowed maxAttempts to its settlement, as DESIGN's settlement table says.
// stopping means the worker cancelled the handler to stop: a failure then
// hands the task back instead of counting against it.
func Decide(err error, attempt, maxAttempts int, timedOut, stopping bool, b tasks.Backoff) tasks.Outcome {
	switch {
	case err == nil:
		return tasks.Outcome{Action: tasks.ActionAck}
	case errors.Is(err, tasks.ErrInvalidPayload):
		return tasks.Outcome{Action: tasks.ActionDeadLetter, Reason: tasks.ReasonInvalidPayload, Err: err}
	case errors.Is(err, tasks.ErrInvalidResult):
		return tasks.Outcome{Action: tasks.ActionDeadLetter, Reason: tasks.ReasonInvalidResult, Err: err}
	case tasks.IsPermanent(err):
		return tasks.Outcome{Action: tasks.ActionDeadLetter, Reason: tasks.ReasonPermanent, Err: err}
	case snoozed(err):
		// Not a failure: the last attempt snoozes as any other, and a
		// stopping worker's handler that snoozed still set its task aside.
		d, _ := tasks.SnoozeDelay(err)
		return tasks.Outcome{Action: tasks.ActionSnooze, Delay: d}
	case stopping:
		return tasks.Outcome{Action: tasks.ActionRelease, Err: err}
	case attempt >= maxAttempts:
		reason := tasks.ReasonMaxAttempts
		if timedOut {
			reason = tasks.ReasonTimeout
		}
		return tasks.Outcome{Action: tasks.ActionDeadLetter, Reason: reason, Err: err}
	}
	d, ok := tasks.RetryDelay(err)
	if !ok {
		d = Delay(b, attempt)
	}
	return tasks.Outcome{Action: tasks.ActionRetry, Delay: d, Err: err}
}

// snoozed reports whether err is a [tasks.Snooze].
func snoozed(err error) bool {
	_, ok := tasks.SnoozeDelay(err)
	return ok
}

// Delay is the wait after failed attempt n: exponential with jitter,
// computed by cenkalti/backoff from the definition's parameters.
func Delay(b tasks.Backoff, attempt int) time.Duration {
	b = b.WithDefaults()
	eb := backoff.ExponentialBackOff{
		InitialInterval:     b.Initial,
		RandomizationFactor: b.Jitter,
		Multiplier:          b.Multiplier,
		MaxInterval:         b.Max,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	eb.Reset()
	d := b.Initial
	for range max(attempt, 1) {
		d = eb.NextBackOff()
	}
	return d
}
