package consumer

// Queue priorities.
//
// JetStream has no priority between messages or between consumers: each
// task type's durable delivers in stream order to whichever pull asks.
// (The prioritized policy of priority groups ranks the pulls of one
// consumer, several workers' pulls of one type; it cannot rank one type's
// consumer above another's, and a durable's policy cannot change once
// made: jetq's are overflow.) So priority is the worker's: which type it
// asks for a task when a slot frees. The routes are grouped in tiers, one
// per queue under a priority option, one of every route without; plan
// (intake.go) goes through the tiers.
//
//   - Strict: the tiers in WithQueues order. A tier that has tasks (a type
//     hot or with a batch open) blocks every pull of the tiers after it,
//     even with slots free when its types are at their cluster-wide cap
//     (tasks.WithMaxConcurrency): strict means a lower queue never goes
//     first. A type of a higher tier learns it has no more tasks only from
//     a batch that comes back empty, not from the count a waiting pull's
//     task carries, which may be older than the enqueues behind it. Only
//     the first tier prefetches, so no lower task queued in the worker
//     goes before a higher one that comes later, and the idle types of
//     every tier but the last keep their waiting pull even with no slot
//     free, so a higher task reaches the worker as it is stored. A lower
//     pull already made when a higher task is stored (a waiting pull, or
//     a batch made in the plan that renewed the higher type's waiting
//     pull) may still bring a lower task first; pulls are not withdrawn,
//     which would lose what they bring (see intake.go). Nor does the
//     plan see a higher task the server has sent and the worker has not
//     taken in yet: the server counts it in NumAckPending as it queues
//     it, and the worker counts it when its pull's subscription runs; a
//     slot freed in between may pull a lower task. A type whose
//     durable is not made yet (at the start, or while it is made again)
//     blocks nothing.
//   - Weighted: each tier has a pass, the tasks it asked for over its
//     weight; the room goes to the tier with tasks and the least pass
//     (stride scheduling). If that tier cannot pull yet (its batches are
//     out), the room waits for it rather than going to another, so the
//     shares hold, unless its batches have gone unanswered for
//     cappedAfter: its types are at their cluster-wide cap, and the others
//     take the room. A tier that comes back after a time without tasks
//     starts at the least pass of the others, not with credit saved while
//     it was idle.

import (
	"fmt"
	"slices"
	"time"
)

// tier is the task types of one queue under a queue priority, or every
// type the worker serves without one. Guarded by intake.mu.
type tier struct {
	routes []*route
	next   int     // the route the next plan starts with, for fairness
	weight float64 // under WithQueueWeights, else 0
	pass   float64 // tasks asked for, over weight
	active bool    // it had tasks at the last plan
	skip   bool    // capped: passed over in this plan
}

// makeTiers groups the routes in tiers for the planner. It returns an
// error wrapping [ErrInvalidOption] when a queue of a priority option has
// no registered task.
func (w *Worker) makeTiers() error {
	var queues []string
	switch {
	case w.cfg.strict, w.cfg.weights != nil:
		queues = w.cfg.queues // in order, distinct: validate saw to it
	default:
		w.tiers = []*tier{{routes: w.routes}}
		return nil
	}
	for _, q := range queues {
		t := &tier{weight: float64(w.cfg.weights[q])}
		for _, r := range w.routes {
			if r.spec.Queue == q {
				t.routes = append(t.routes, r)
				r.in.tier = t
			}
		}
		if len(t.routes) == 0 {
			opt := "WithStrictPriority"
			if w.cfg.weights != nil {
				opt = "WithQueueWeights"
			}
			return fmt.Errorf("%w: queue %q given to %s has no registered task; register its tasks or leave it out (queues with tasks: %v)",
				ErrInvalidOption, q, opt, w.queuesServed())
		}
		w.tiers = append(w.tiers, t)
	}
	return nil
}

// queuesServed is the queues of the registered tasks the worker serves.
func (w *Worker) queuesServed() []string {
	var qs []string
	for _, r := range w.routes {
		if !slices.Contains(qs, r.spec.Queue) {
			qs = append(qs, r.spec.Queue)
		}
	}
	slices.Sort(qs)
	return qs
}

// busy reports whether a tier of a strict priority may have tasks: a type
// hot or with a batch open. Called with in.mu held.
func (t *tier) busy() bool {
	for _, r := range t.routes {
		f := &r.in
		if f.ready && (f.hot || f.batches > 0) && !r.waitsForRate() {
			return true
		}
	}
	return false
}

// wants reports whether its route has tasks to pull now: hot, and the server
// had more than its batches asked for. Called with in.mu held.
func (f *feed) wants(now time.Time) bool {
	return f.ready && !now.Before(f.notBefore) && f.hot && f.pending > f.asked
}

// share gives the room of a weighted worker to the tiers with tasks, the
// least pass first, a batch at a time (see the file's comment). Called by
// plan with in.mu held.
func (w *Worker) share(now time.Time) {
	least := -1.0
	for _, t := range w.tiers {
		if t.active && (least < 0 || t.pass < least) {
			least = t.pass
		}
	}
	for _, t := range w.tiers {
		had := t.active
		t.active = false
		for _, r := range t.routes {
			if f := &r.in; f.wants(now) || f.ready && f.batches > 0 {
				t.active = true
				break
			}
		}
		if t.active && !had && least >= 0 {
			t.pass = max(t.pass, least)
		}
	}
	for _, t := range w.tiers {
		t.skip = false
	}
	for {
		var first *tier
		for _, t := range w.tiers {
			if (first == nil || t.pass < first.pass) && !t.skip && t.hasWant(now) {
				first = t
			}
		}
		if first == nil {
			return
		}
		n := 0
		for i := range first.routes {
			r := first.routes[(first.next+i)%len(first.routes)]
			if r.in.wants(now) {
				if n = w.batch(r, w.limitOf(&r.in, true)); n > 0 {
					break
				}
			}
		}
		if n == 0 {
			if first.capped(w, now) {
				first.skip = true // the others take the room
				continue
			}
			return // its turn: the room waits for its batch to end
		}
		first.next++
		first.pass += float64(n) / first.weight
	}
}

// hasWant reports whether a type of tier t has tasks to pull now.
func (t *tier) hasWant(now time.Time) bool {
	for _, r := range t.routes {
		if r.in.wants(now) {
			return true
		}
	}
	return false
}

// credit adds n tasks to the pass of a weighted route's tier: positive
// for a task that came through a waiting pull, negative for tasks a batch
// asked for and did not bring. Called with in.mu held.
func (f *feed) credit(n int) {
	if t := f.tier; t != nil && t.weight > 0 {
		t.pass += float64(n) / t.weight
	}
}

// cappedAfter is how long a weighted tier's batches may go unanswered
// before the room goes to the other tiers: the server answers a batch that
// does not wait within a round trip unless its type is at its
// MaxAckPending (tasks.WithMaxConcurrency), when it waits for an
// acknowledgement, up to batchLost.
const cappedAfter = 100 * time.Millisecond

// capped reports whether tier t has batches open and all of them have gone
// unanswered for cappedAfter: its types are at their cluster-wide
// cap, and waiting for them would starve the other tiers. Called with
// in.mu held.
func (t *tier) capped(w *Worker, now time.Time) bool {
	old := false
	for p := range w.in.open {
		if !p.waiting && p.r.in.tier == t {
			if now.Sub(p.at) < cappedAfter {
				return false
			}
			old = true
		}
	}
	return old
}
