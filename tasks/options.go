package tasks

import (
	"fmt"
	"time"
)

// Option configures a [Definition]; pass options to [Define] or [New].
type Option func(*Spec)

// WithQueue puts the task on the named queue, one token of [a-z0-9_-] and at
// most 64 bytes; with the task name, len(queue)+1+len(name) must be at most
// 255 bytes (see [Spec.Validate]). Default [DefaultQueue]. Workers serve a
// task on the queue its definition names.
func WithQueue(queue string) Option {
	return func(s *Spec) { s.Queue = queue }
}

// WithMaxAttempts sets how many times the task may be tried before it is
// dead-lettered with reason max_attempts, at least 1. Default 25. It becomes the
// consumer's MaxDeliver on the server, so a worker that dies on the last attempt
// still has its task dead-lettered.
func WithMaxAttempts(n int) Option {
	return func(s *Spec) { s.MaxAttempts = n }
}

// WithTimeout bounds one attempt: the handler's ctx is cancelled when it passes
// and the attempt counts as failed (reason timeout if it was the last).
// Default 30 minutes.
func WithTimeout(d time.Duration) Option {
	return func(s *Spec) { s.Timeout = d }
}

// WithAckWait sets how long the server waits for a sign of life from the
// worker running a task before it redelivers the task to another worker: how
// fast a crashed worker's tasks come back. Workers send one every third of
// it for every task they hold, so a long task is not redelivered while it
// runs. It is a setting of the task type's durable consumer, shared by every
// worker, which is why it lives here. At least 1 s; default 30 s.
func WithAckWait(d time.Duration) Option {
	return func(s *Spec) { s.AckWait = d }
}

// WithMaxConcurrency caps how many tasks of this definition run at once
// across every worker of every host: at most n are handed out until one is
// settled. It becomes the MaxAckPending of the task type's durable consumer,
// so the server enforces it, whatever the workers' own concurrency. Default
// 0: no cap.
func WithMaxConcurrency(n int) Option {
	return func(s *Spec) { s.MaxConcurrency = n }
}

// WithExpiry drops the definition's tasks that have not started within d of
// being due (enqueued, or their delay passed): a password-reset mail an hour
// late is not worth sending. The server removes an expired task from the
// queue (a per-message TTL, where the server supports it), and a worker that
// picks one up settles it unrun, as expired: the handler never sees it,
// tracked tasks read status "expired", and it is not dead-lettered. An
// attempt that fails when its retry would come after the deadline settles
// the task as expired too. A call can set its own deadline with
// producer.WithDeadline. Default 0: never.
func WithExpiry(d time.Duration) Option {
	return func(s *Spec) { s.Expiry = d }
}

// WithBackoff sets the delays between failed attempts. Zero fields keep their
// defaults (see [Backoff]).
func WithBackoff(b Backoff) Option {
	return func(s *Spec) { s.Backoff = b }
}

// WithCodec encodes payloads with c instead of [JSON].
func WithCodec(c Codec) Option {
	return func(s *Spec) { s.Codec = c }
}

// WithStateTracking records where each task of the definition stands —
// queued, running, retrying, done or dead-lettered, with attempts, the next
// retry time, the failure reason and the handler's progress — in a JetStream
// key-value bucket that survives worker restarts. Read it with the status
// package. It costs two or three key-value writes per attempt; off by default.
func WithStateTracking() Option {
	return func(s *Spec) { s.TrackState = true }
}

// Backoff describes exponential delays with jitter between failed attempts:
// the n-th retry waits about Initial × Multiplier^(n-1), at most Max, spread by
// ±Jitter. A zero field takes its default; the zero Backoff is 1 s doubling up
// to 10 minutes with ±20 % jitter. [RetryAfter] overrides it for one attempt.
type Backoff struct {
	// Initial is the delay after the first failed attempt. Default 1 s.
	Initial time.Duration
	// Max caps every delay. Default 10 minutes.
	Max time.Duration
	// Multiplier grows the delay after every attempt, at least 1. Default 2.
	Multiplier float64
	// Jitter spreads each delay by ±Jitter of itself, in [0, 1). Default 0.2.
	// Use a negative value for no jitter.
	Jitter float64
}

// Default values of [Backoff] fields.
const (
	DefaultBackoffInitial    = time.Second
	DefaultBackoffMax        = 10 * time.Minute
	DefaultBackoffMultiplier = 2.0
	DefaultBackoffJitter     = 0.2
)

// WithDefaults returns b with every zero field set to its default and a
// negative Jitter set to 0.
func (b Backoff) WithDefaults() Backoff {
	if b.Initial == 0 {
		b.Initial = DefaultBackoffInitial
	}
	if b.Max == 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Multiplier == 0 {
		b.Multiplier = DefaultBackoffMultiplier
	}
	switch {
	case b.Jitter == 0:
		b.Jitter = DefaultBackoffJitter
	case b.Jitter < 0:
		b.Jitter = 0
	}
	return b
}

func (b Backoff) validate(task string) error {
	switch {
	case b.Initial < 0 || b.Max < 0:
		return fmt.Errorf("%w: task %q: backoff delays must not be negative", ErrInvalidOption, task)
	case b.Multiplier != 0 && b.Multiplier < 1:
		return fmt.Errorf("%w: task %q: backoff multiplier must be at least 1, got %v", ErrInvalidOption, task, b.Multiplier)
	case b.Jitter >= 1:
		return fmt.Errorf("%w: task %q: backoff jitter must be below 1, got %v", ErrInvalidOption, task, b.Jitter)
	}
	d := b.WithDefaults()
	if d.Initial > d.Max {
		return fmt.Errorf("%w: task %q: backoff initial delay %v exceeds its maximum %v", ErrInvalidOption, task, d.Initial, d.Max)
	}
	return nil
}
