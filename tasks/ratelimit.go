package tasks

import (
	"fmt"
	"time"
)

// Bounds of a [Rate]'s interval.
const (
	// MinRatePer is the shortest interval a rate limit counts over: a
	// shorter one would ask the server for a count more often than a round
	// trip takes.
	MinRatePer = 10 * time.Millisecond
	// MaxRatePer is the longest interval a rate limit counts over. The
	// server keeps each interval's count for that long.
	MaxRatePer = time.Hour
)

// Rate is a rate limit: at most N starts in each interval Per. Intervals
// are fixed windows aligned to the Unix epoch (the n-th window of 1 s is
// the n-th second since 1970), counted on the server, so the limit holds
// across every worker of every host. The zero Rate means no limit.
type Rate struct {
	// N is how many tasks may start in one interval, at least 1.
	N int `json:"n"`
	// Per is the interval, from [MinRatePer] to [MaxRatePer]; in JSON, in
	// nanoseconds.
	Per time.Duration `json:"per"`
}

// IsZero reports whether r is no limit.
func (r Rate) IsZero() bool { return r == Rate{} }

// String is r as "50/1s", or "none" for the zero Rate.
func (r Rate) String() string {
	if r.IsZero() {
		return "none"
	}
	return fmt.Sprintf("%d/%v", r.N, r.Per)
}

// validate says what is wrong with r, the option called opt of task.
func (r Rate) validate(task, opt string) error {
	switch {
	case r.IsZero():
		return nil
	case r.N < 1:
		return fmt.Errorf("%w: task %q: %s: at most %d starts per %v: the count must be at least 1 (leave the option out for no limit)",
			ErrInvalidOption, task, opt, r.N, r.Per)
	case r.Per < MinRatePer || r.Per > MaxRatePer:
		return fmt.Errorf("%w: task %q: %s: the interval must be from %v to %v, got %v; for a slower rate give fewer starts per %v",
			ErrInvalidOption, task, opt, MinRatePer, MaxRatePer, r.Per, MaxRatePer)
	}
	return nil
}

// WithRateLimit lets at most n tasks of the definition start in each
// interval per, across every worker of every host: a worker takes a task
// of the type from the queue only once the server has granted it a start
// in the current interval. Tasks over the limit stay queued: they spend no
// attempt and are not redelivered while they wait. Intervals are fixed
// windows aligned to the Unix epoch, so up to 2n may start within one
// interval that straddles two windows; hosts' clocks should agree (NTP).
// n must be at least 1 and per from [MinRatePer] to [MaxRatePer]
// ([Define] panics and [New] fails otherwise). It needs nats-server 2.12
// or newer (counters); a worker serving the type on an older server
// refuses to start. Default: no limit.
func WithRateLimit(n int, per time.Duration) Option {
	return func(s *Spec) { s.RateLimit = Rate{N: n, Per: per} }
}

// WithKeyRateLimit lets at most n tasks of the definition with the same
// key (producer.WithKey, [KeyOf]) start in each interval per, across every
// worker of every host. A task without a key is not limited by it. The key
// is known only once a worker has the task, so a task over its key's limit
// is held by the worker that has it, without a handler slot and
// heartbeated, until an interval grants it a start: it spends no attempt
// and is not redelivered. A worker holds up to 256 such tasks of the
// type, then takes no more of it until one runs; other types go on. A
// burst of one key larger than that fills them, and the type's other keys
// wait behind it in the queue. Held tasks count toward
// [WithMaxConcurrency]. Intervals, bounds and the server version are as
// for [WithRateLimit], and both may be given: a task then needs a start of
// its type when it is taken and one of its key before it runs. Default:
// no limit.
func WithKeyRateLimit(n int, per time.Duration) Option {
	return func(s *Spec) { s.KeyRateLimit = Rate{N: n, Per: per} }
}
