package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Keyed holds the tasks of one task type until their key's limit grants
// them a start, then lets them run. The tasks of one key wait in the order
// they came; one goroutine per key with waiting tasks asks the server for
// as many starts as it has tasks (at most the limit), lets the granted
// ones run and, if any are left, waits for the next window. It is safe
// for concurrent use.
type Keyed[T any] struct {
	ctx     context.Context
	n       int
	per     time.Duration
	take    func(ctx context.Context, key string, index int64, k int) (int, error)
	run     func(T)
	back    func(T)
	onError func(error)

	mu     sync.Mutex
	keys   map[string][]T
	held   int
	noneCh chan struct{} // closed while nothing is held
}

// KeyedConfig is what a [Keyed] needs.
type KeyedConfig[T any] struct {
	// N starts per Per for each key.
	N   int
	Per time.Duration
	// Take asks the server for k starts of key in window index and
	// returns how many it granted (see [Counter.Take]).
	Take func(ctx context.Context, key string, index int64, k int) (int, error)
	// Run lets a task that was granted a start run.
	Run func(T)
	// Back hands a task back unrun when ctx ends before it is granted.
	Back func(T)
	// OnError is told of failed requests; the key tries again after
	// retryWait.
	OnError func(error)
}

// NewKeyed returns a Keyed whose waits end with ctx: the tasks still held
// then are handed back.
func NewKeyed[T any](ctx context.Context, c KeyedConfig[T]) *Keyed[T] {
	none := make(chan struct{})
	close(none)
	return &Keyed[T]{ctx: ctx, n: c.N, per: c.Per, take: c.Take, run: c.Run, back: c.Back, onError: c.OnError,
		keys: map[string][]T{}, noneCh: none}
}

// Hold holds v, a task with key, until its key is granted a start.
func (k *Keyed[T]) Hold(key string, v T) {
	k.mu.Lock()
	if k.held == 0 {
		k.noneCh = make(chan struct{})
	}
	k.held++
	q, waiting := k.keys[key]
	k.keys[key] = append(q, v)
	k.mu.Unlock()
	if !waiting {
		go k.serve(key)
	}
}

// Held is how many tasks wait.
func (k *Keyed[T]) Held() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.held
}

// None is closed while no task waits, and until the next one does.
func (k *Keyed[T]) None() <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.noneCh
}

// serve asks for starts for the tasks of key until none is left.
func (k *Keyed[T]) serve(key string) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		k.mu.Lock()
		want := min(len(k.keys[key]), k.n)
		k.mu.Unlock()
		now := time.Now()
		index, end := Window(now, k.per)
		if end.Sub(now) < Margin(k.per) {
			if !k.sleep(key, t, end.Sub(now)) {
				return
			}
			continue
		}
		ctx, cancel := context.WithTimeout(k.ctx, requestTimeout)
		got, err := k.take(ctx, key, index, want)
		cancel()
		wait := time.Duration(0)
		switch {
		case err != nil:
			if k.ctx.Err() == nil {
				k.onError(err)
			}
			wait = retryWait
		case got < want:
			wait = time.Until(end)
		}
		if k.release(key, got) {
			return
		}
		if wait > 0 && !k.sleep(key, t, wait) {
			return
		}
	}
}

// sleep waits d on t and reports true, or hands back the tasks of key and
// reports false when the ctx ends first.
func (k *Keyed[T]) sleep(key string, t *time.Timer, d time.Duration) bool {
	t.Reset(d)
	select {
	case <-t.C:
		return true
	case <-k.ctx.Done():
		k.giveBack(key)
		return false
	}
}

// release lets the first n tasks of key run, and reports whether none is
// left (key's goroutine ends then).
func (k *Keyed[T]) release(key string, n int) (done bool) {
	k.mu.Lock()
	q := k.keys[key]
	go1 := q[:n:n]
	rest := q[n:]
	if len(rest) == 0 {
		delete(k.keys, key)
	} else {
		k.keys[key] = rest
	}
	k.mu.Unlock()
	for _, v := range go1 {
		k.run(v)
		k.done()
	}
	return len(rest) == 0
}

// giveBack hands back every task of key.
func (k *Keyed[T]) giveBack(key string) {
	k.mu.Lock()
	q := k.keys[key]
	delete(k.keys, key)
	k.mu.Unlock()
	for _, v := range q {
		k.back(v)
		k.done()
	}
}

// done counts one task out, once it has been let run or handed back.
func (k *Keyed[T]) done() {
	k.mu.Lock()
	k.held--
	if k.held == 0 {
		close(k.noneCh)
	}
	k.mu.Unlock()
}
