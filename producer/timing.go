package producer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// timing sets on envs what ec and spec say of when the tasks run and until
// when they are worth starting. It needs the producer provisioned.
func (p *Producer) timing(envs []*tasks.Envelope, spec tasks.Spec, ec *enqueueConfig, now time.Time) error {
	due := ec.due(now)
	if !due.IsZero() && !p.schedules.Load() {
		return fmt.Errorf("%w: delayed tasks need %s or newer (the work stream %s does not take scheduled tasks)",
			ErrUnsupported, provision.MinSchedulingServer, p.workStream)
	}
	deadline := ec.deadline
	if !ec.deadlineSet && spec.Expiry > 0 {
		deadline = now.Add(spec.Expiry)
		if !due.IsZero() {
			deadline = due.Add(spec.Expiry)
		}
	}
	for _, env := range envs {
		if !deadline.IsZero() {
			wire.SetDeadline(env, deadline)
			if due.IsZero() && p.ttl.Load() {
				// The worker's check at pickup makes the deadline exact
				// (and counts the task); the server frees the queue of
				// what no worker picked up a while after.
				env.Header[wire.HeaderTTL] = []string{wire.TTL(deadline.Sub(now) + wire.TTLGrace)}
			}
		}
		if !due.IsZero() {
			wire.Delay(env, p.cfg.names, due)
		}
	}
	return nil
}

// claim takes env's unique key for it. When another task holds the key, it
// returns that task's ID and false; nothing is to be published then. fresh
// is true when this call created the key (rather than finding it held by
// env's own ID, as when a failed enqueue is retried with the same ID, which
// is published again: the dedup window makes that safe).
func (p *Producer) claim(ctx context.Context, env *tasks.Envelope, spec tasks.Spec, ec *enqueueConfig, now time.Time) (holder string, publish, fresh bool, err error) {
	if !ec.uniqueSet {
		return "", true, false, nil
	}
	// The key lasts until the task settles, and at most its TTL after the
	// task is due.
	ttl := ec.uniqueTTL
	if due := ec.due(now); !due.IsZero() {
		ttl += due.Sub(now)
	}
	env.Header[wire.HeaderUnique] = []string{ec.unique}
	holder, ok, err := p.unique.Claim(ctx, spec, ec.unique, env.ID, ttl)
	if err != nil {
		return "", false, false, fmt.Errorf("producer: unique key %q: %w", ec.unique, err)
	}
	return holder, ok || holder == env.ID, ok, nil
}

// notStored reports a publish error after which the task is certainly not
// stored. After others (no acknowledgement, say) it may be, and its unique
// key is kept until its TTL.
func notStored(err error) bool {
	return errors.Is(err, ErrQueueFull) || errors.Is(err, tasks.ErrInvalidPayload) ||
		errors.Is(err, ErrInvalidOption) || errors.Is(err, ErrUnsupported)
}

// unclaim releases env's unique key after its publish failed.
func (p *Producer) unclaim(ctx context.Context, env *tasks.Envelope, spec tasks.Spec, ec *enqueueConfig) {
	if ec.uniqueSet {
		_ = p.unique.Release(context.WithoutCancel(ctx), spec, ec.unique, env.ID)
	}
}
