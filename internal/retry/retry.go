package retry

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// ErrBudget is returned by [Backoff.Wait] when the retry budget is spent.
var ErrBudget = errors.New("retry budget spent")

// Backoff waits ever longer between tries: from initial, growing 2× with
// ±30 % jitter, capped at maxWait. Not safe for concurrent use.
type Backoff struct {
	b        *backoff.ExponentialBackOff
	deadline time.Time
}

// New returns a Backoff whose waits end after budget has passed in all;
// budget 0 means no limit but the ctx given to Wait.
func New(initial, maxWait, budget time.Duration) *Backoff {
	var deadline time.Time
	if budget > 0 {
		deadline = time.Now().Add(budget)
	}
	return Until(initial, maxWait, deadline)
}

// Until returns a Backoff whose waits end at deadline, for a budget that
// began before the first wait; the zero time means no limit but the ctx
// given to Wait.
func Until(initial, maxWait time.Duration, deadline time.Time) *Backoff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     initial,
		RandomizationFactor: 0.3,
		Multiplier:          2,
		MaxInterval:         maxWait,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	return &Backoff{b: b, deadline: deadline}
}

// Wait sleeps for the next interval, or until the budget's end if that
// comes first, so that a last try goes out at the end of the budget. It
// returns ctx's error if ctx ends first and [ErrBudget] once the budget is
// spent.
func (bo *Backoff) Wait(ctx context.Context) error {
	d := bo.b.NextBackOff()
	if !bo.deadline.IsZero() {
		left := time.Until(bo.deadline)
		if left <= 0 {
			return ErrBudget
		}
		d = min(d, left)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Reset starts the intervals again from the initial one; the budget stays.
func (bo *Backoff) Reset() { bo.b.Reset() }
