package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Gate hands out the starts one task type's limit grants one worker, to
// the pulls that take its tasks. It asks the server in the background,
// one request at a time, and calls wake when it has starts to give again:
// when a request returns, or when a new window begins after the last was
// used up. It is safe for concurrent use and never calls wake with its
// lock held.
type Gate struct {
	ctx     context.Context
	n       int
	per     time.Duration
	take    func(ctx context.Context, index int64, k int) (int, error)
	wake    func()
	onError func(error)

	mu     sync.Mutex
	index  int64 // the window tokens belong to
	tokens int   // starts granted in it and not handed out
	spent  bool  // the window granted less than asked: ask again in the next
	asking bool
	failed time.Time // when a request last failed; the next waits a moment
	timer  *time.Timer
}

// GateConfig is what a [Gate] needs.
type GateConfig struct {
	// N starts per Per.
	N   int
	Per time.Duration
	// Take asks the server for k starts in window index and returns how
	// many it granted (see [Counter.Take]).
	Take func(ctx context.Context, index int64, k int) (int, error)
	// Wake asks the puller to try again.
	Wake func()
	// OnError is told of failed requests; the gate tries again after
	// retryWait.
	OnError func(error)
}

// retryWait is how long a gate waits after a failed request before the
// next: the type takes nothing meanwhile (a limit the server cannot count
// holds nothing back otherwise).
const retryWait = 500 * time.Millisecond

// Margin is the end of each window of interval per in which no start is
// granted, a fiftieth of it and at most 20 ms: a task granted a start
// then would start in the next window, beside that window's own.
func Margin(per time.Duration) time.Duration { return min(per/50, 20*time.Millisecond) }

// requestTimeout bounds one request for starts.
const requestTimeout = 5 * time.Second

// NewGate returns a gate whose requests end with ctx.
func NewGate(ctx context.Context, c GateConfig) *Gate {
	return &Gate{ctx: ctx, n: c.N, per: c.Per, take: c.Take, wake: c.Wake, onError: c.OnError, index: -1}
}

// Grant hands out up to want starts for now, fewer if fewer are granted:
// how many, and their window, which a pull that brings fewer than it asked
// for gives back ([Gate.Return]) and whose end bounds a pull that waits.
// None means wait: the gate wakes the puller when it may have some.
func (g *Gate) Grant(want int, now time.Time) (n int, index int64, end time.Time) {
	index, end = Window(now, g.per)
	g.mu.Lock()
	defer g.mu.Unlock()
	if index != g.index {
		// Starts of a past window are lost: using them now could exceed
		// this window's limit.
		g.index, g.tokens, g.spent = index, 0, false
	}
	if end.Sub(now) < Margin(g.per) {
		g.wakeAt(end)
		return 0, index, end
	}
	if g.tokens > 0 {
		n = min(want, g.tokens)
		g.tokens -= n
		return n, index, end
	}
	switch {
	case g.asking:
	case g.spent:
		g.wakeAt(end)
	case now.Sub(g.failed) < retryWait:
		g.wakeAt(g.failed.Add(retryWait))
	default:
		g.asking = true
		go g.ask(index, min(want, g.n))
	}
	return 0, index, end
}

// Until is when the gate may have starts again, after a [Gate.Grant]
// that had none: the next window's start when this window's are used up
// or in its last [Margin], a moment after a failed request. Zero while a
// request is out: it wakes the puller when it returns.
func (g *Gate) Until(now time.Time) time.Time {
	index, end := Window(now, g.per)
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case end.Sub(now) < Margin(g.per), index == g.index && g.spent && g.tokens == 0:
		return end
	case g.asking:
		return time.Time{}
	case now.Sub(g.failed) < retryWait:
		return g.failed.Add(retryWait)
	}
	return time.Time{}
}

// Return gives back n starts of window index that a pull did not use.
func (g *Gate) Return(index int64, n int) {
	if n <= 0 {
		return
	}
	g.mu.Lock()
	if index == g.index {
		g.tokens += n
	}
	g.mu.Unlock()
}

// ask asks the server for k starts in window index.
func (g *Gate) ask(index int64, k int) {
	ctx, cancel := context.WithTimeout(g.ctx, requestTimeout)
	got, err := g.take(ctx, index, k)
	cancel()
	g.mu.Lock()
	g.asking = false
	switch {
	case err != nil:
		g.failed = time.Now()
	case index == g.index:
		g.tokens += got
		g.spent = got < k
	}
	g.mu.Unlock()
	if err != nil && g.ctx.Err() == nil {
		g.onError(err)
	}
	g.wake()
}

// wakeAt wakes the puller at t. Called with g.mu held.
func (g *Gate) wakeAt(t time.Time) {
	d := time.Until(t)
	if g.timer == nil {
		g.timer = time.AfterFunc(d, g.wake)
		return
	}
	g.timer.Reset(d)
}
