package consumer

// Rate limits (tasks.WithRateLimit, tasks.WithKeyRateLimit), counted on
// the server by internal/ratelimit.
//
// A type's limit gates its pulls: the planner pulls a limited type only
// for the starts its gate has been granted in the current window, so a
// task over the limit stays queued on the server, where waiting costs
// nothing: no delivery, no attempt, no slot. A waiting pull of an idle
// limited type holds one start and expires with its window.
//
// A key's limit is known only once the task is in hand. A task over it is
// held, heartbeated as every delivery in hand, until a window grants it a
// start, then queued for a runner: it holds no slot meanwhile and is
// never redelivered, so it spends no attempt. Held tasks are out of the
// intake's count, so the worker goes on pulling other tasks (other keys,
// other types) while they wait. A type holds at most maxHeld tasks: at
// that many its pulls stop, as a type limit stops them, until one of its
// held tasks runs; other types are not held back. At a graceful stop held
// tasks still wait for their window and run; a forced stop hands them
// back.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jetq/jetq/internal/ratelimit"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/tasks"
)

// minRatePull is the shortest waiting pull a limited type makes: one that
// would end sooner waits for the next window instead.
const minRatePull = 10 * time.Millisecond

// maxHeld is the most tasks of one type a worker holds for their key:
// each costs the server an acknowledgement pending and a heartbeat every
// third of its ack wait.
const maxHeld = 256

// rates is the rate-limit state of a route with a limit.
type rates struct {
	counter *ratelimit.Counter
	gate    *ratelimit.Gate        // nil without a type limit
	keyed   *ratelimit.Keyed[*job] // nil without a key limit
	// held counts the tasks held for their key, out of the intake's count.
	held atomic.Int64
	// waiting is set while the type may not pull: its window's starts are
	// used up, or it holds maxHeld tasks (full). Guarded by intake.mu.
	waiting, full bool
}

// waitsForRate reports whether route r may not pull for its rate limit
// now: a higher queue waiting for its window does not hold lower ones back
// under strict priority. Called with intake.mu held.
func (r *route) waitsForRate() bool { return r.rates != nil && r.rates.waiting }

// newRates is the rate-limit state of route r, nil for a route without a
// limit.
func (w *Worker) newRates(r *route) *rates {
	spec := r.spec
	if spec.RateLimit.IsZero() && spec.KeyRateLimit.IsZero() {
		return nil
	}
	rs := &rates{counter: ratelimit.New(w.js, w.cfg.topo)}
	onError := func(err error) {
		w.logRoute(w.stopCtx, r, slog.LevelWarn, "jetq: cannot count the task's rate limit; its tasks wait",
			slog.String(keyError, err.Error()))
	}
	if lim := spec.RateLimit; !lim.IsZero() {
		rs.gate = ratelimit.NewGate(w.stopCtx, ratelimit.GateConfig{
			N: lim.N, Per: lim.Per, Wake: w.in.wake, OnError: onError,
			Take: func(ctx context.Context, index int64, k int) (int, error) {
				return rs.counter.Take(ctx, rs.counter.TypeSubject(spec, index), k, lim.N)
			},
		})
	}
	if lim := spec.KeyRateLimit; !lim.IsZero() {
		rs.keyed = ratelimit.NewKeyed(w.baseCtx, ratelimit.KeyedConfig[*job]{
			N: lim.N, Per: lim.Per, OnError: onError,
			Take: func(ctx context.Context, key string, index int64, k int) (int, error) {
				return rs.counter.Take(ctx, rs.counter.KeySubject(spec, key, index), k, lim.N)
			},
			Run:  func(j *job) { w.queue <- w.unhold(r, j) },
			Back: func(j *job) { w.handBack(w.unhold(r, j)) },
		})
	}
	return rs
}

// ensureRates creates the rate stream if a route has a limit, or returns
// an error wrapping [ErrUnsupported] on a server without counters.
func (w *Worker) ensureRates(ctx context.Context) error {
	for _, r := range w.routes {
		if r.rates == nil {
			continue
		}
		bo := retry.New(100*time.Millisecond, time.Second, 0)
		for {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := r.rates.counter.Ensure(rctx)
			cancel()
			switch {
			case err == nil:
				return nil
			case errors.Is(err, ratelimit.ErrUnsupported):
				return fmt.Errorf("%w: task %q has a rate limit: %w", ErrUnsupported, r.spec.Name, err)
			case !retry.Transient(err):
				return fmt.Errorf("consumer: task %q has a rate limit: %w", r.spec.Name, err)
			}
			if bo.Wait(ctx) != nil {
				return nil // stopped before it started
			}
		}
	}
	return nil
}

// grantPull sizes pull p of a limited type to the starts its gate grants
// now and returns how long it may wait, if it is a waiting pull; 0 starts
// means no pull now. A type with no start until its next window, or
// holding maxHeld tasks for their keys, is not planned again before then
// (its feed's notBefore), so that under priorities it leaves the room to
// other types; the gate's answer or a held task that runs wakes the
// planner otherwise. Called with in.mu held.
func (rs *rates) grantPull(p *pull) (n int, expires time.Duration) {
	f := &p.r.in
	if rs.keyed != nil && rs.held.Load() >= maxHeld {
		rs.waiting, rs.full = true, true
		f.notBefore = time.Now().Add(time.Hour) // until unhold
		return 0, 0
	}
	if rs.gate == nil {
		return p.n, waitExpiry
	}
	now := time.Now()
	n, p.window, _ = rs.gate.Grant(p.n, now)
	rs.waiting = false
	if n == 0 {
		if until := rs.gate.Until(now); !until.IsZero() {
			rs.waiting, f.notBefore = true, until
		}
		return 0, 0
	}
	if !p.waiting {
		p.n = n
		return n, waitExpiry
	}
	// What a waiting pull brings after its window would start in the next
	// one on this window's grant.
	_, end := ratelimit.Window(now, p.r.spec.RateLimit.Per)
	if expires = min(waitExpiry, end.Sub(now)); expires < minRatePull {
		rs.gate.Return(p.window, n)
		rs.waiting, f.notBefore = true, end
		return 0, 0
	}
	p.n = n
	return n, expires
}

// pullEnded gives back the starts pull p did not use.
func (rs *rates) pullEnded(p *pull) {
	if rs.gate != nil {
		rs.gate.Return(p.window, p.n-p.got)
	}
}

// holdForKey holds j, just delivered, if its type limits its key: it
// runs once a window grants its key a start. It reports whether it holds
// j; a task without a key is not limited by key.
func (w *Worker) holdForKey(rs *rates, j *job) bool {
	if rs.keyed == nil {
		return false
	}
	key := tasks.KeyOf(tasks.Header(j.msg.Headers()))
	if key == "" {
		return false
	}
	rs.held.Add(1)
	w.released() // out of the intake's count: the worker pulls on
	rs.keyed.Hold(key, j)
	return true
}

// unhold puts a task of route r held for its key back in the intake's
// count, before it is queued or handed back, and returns it.
func (w *Worker) unhold(r *route, j *job) *job {
	rs := r.rates
	w.in.mu.Lock()
	w.in.held++
	rs.held.Add(-1)
	again := rs.full
	if again {
		rs.waiting, rs.full, r.in.notBefore = false, false, time.Time{}
	}
	w.in.mu.Unlock()
	if again {
		w.in.wake() // the type may pull again
	}
	return j
}

// keyHoldsEnded waits, at a stop, until no task is held for its key: they
// run as their windows come, or a forced stop hands them back.
func (w *Worker) keyHoldsEnded() {
	for _, r := range w.routes {
		if r.rates == nil || r.rates.keyed == nil {
			continue
		}
		<-r.rates.keyed.None()
	}
}
