package tasks

import "fmt"

// MaxKeyConcurrency is the most tasks of one key [WithKeyConcurrency]
// lets run at once. A worker looks for a free place among the key's k
// places one at a time, so a task that finds its key busy costs up to k
// requests to the server.
const MaxKeyConcurrency = 64

// WithKeyConcurrency lets at most k tasks of the definition with the same
// key ([KeyOf], set by producer.WithKey) run at once, across every worker
// of every host, and keeps one busy key from starving the others. The
// count is kept on the server, so it holds however many workers run.
//
// A task whose key has k tasks running waits in its worker's hands,
// holding no slot and spending no attempt, and takes the place of the
// key's task that ends; past what a worker holds (32 per place of a key)
// it is set aside, as by [Snooze], and goes behind the tasks queued
// meanwhile, its key's tasks coming back at a steady pace (20 to 200 a
// second per place), so that every busy key is looked at about as often:
// the other keys' tasks run in the meantime. A worker that dies while
// running a task gives its key's place back within the task's ack wait
// ([WithAckWait]). Tasks of the definition without a key share one place
// count, as if they all had the same key, so that no task of the type runs
// outside the limit.
//
// k must be from 1 to [MaxKeyConcurrency]; any other value makes [Define]
// panic and [New] return an error wrapping [ErrInvalidOption]. It needs
// nats-server 2.14 or newer (delayed tasks, to set a waiting task aside,
// and per-key TTLs); on an older server a task waiting for its key spends
// an attempt, as a snooze does there.
func WithKeyConcurrency(k int) Option {
	return func(s *Spec) { s.KeyConcurrency, s.keyConcurrencySet = k, true }
}

// validateKeyConcurrency says what is wrong with s's KeyConcurrency.
func (s Spec) validateKeyConcurrency() error {
	k := s.KeyConcurrency
	if (s.keyConcurrencySet || k != 0) && (k < 1 || k > MaxKeyConcurrency) {
		return fmt.Errorf("%w: task %q: key concurrency must be from 1 to %d tasks of one key at once, got %d "+
			"(leave tasks.WithKeyConcurrency out for no limit per key)", ErrInvalidOption, s.Name, MaxKeyConcurrency, k)
	}
	return nil
}
