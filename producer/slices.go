package producer

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/jetq/jetq/tasks"
)

// publishSlices publishes the n tasks of one EnqueueBatch in slices of about
// half the async window, each through the middleware, two slices in flight:
// while the server acknowledges one, the next is built and sent, so the
// connection does not idle between slices. In interleaved runs on one server
// that took a 100 000-task batch from 86% to 94% of raw PublishAsync over
// TCP, and from 82% to 89% in-process (bench/README.md).
//
// build makes the envelopes of tasks [lo, hi); settled takes their errors.
// A slice enters the middleware only once the slice before has sent its
// tasks (or its middleware returned), so the batch is sent in order and no
// middleware, not even one that serialises its calls, waits on a later
// slice. A panic or runtime.Goexit in a slice's goroutine stops the batch
// and is raised again in the caller, so that it stays recoverable there as
// it was when the middleware ran on the caller's goroutine.
func (p *Producer) publishSlices(ctx context.Context, spec tasks.Spec, n int,
	build func(lo, hi int) ([]*tasks.Envelope, error), settled func(lo int, envs []*tasks.Envelope, errs []error)) error {
	half := max(p.cfg.window/2, 1)
	slices := (n + half - 1) / half
	size := (n + slices - 1) / slices // about even, none larger than half the window
	var (
		inFlight sync.WaitGroup
		slots    = make(chan struct{}, 2) // slices built and not yet settled
		before   *turn
		stop     abort
	)
	defer stop.raise(&inFlight)
	for lo := 0; lo < n; lo += size {
		slots <- struct{}{}
		hi := min(lo+size, n)
		envs, err := build(lo, hi)
		if err != nil {
			<-slots
			return err
		}
		before.wait(ctx)
		if stop.happened() {
			<-slots
			return nil
		}
		t := &turn{envs: envs, done: make(chan struct{})}
		before = t
		inFlight.Go(func() {
			defer func() { t.sent(); <-slots }() // after guard recorded a panic: the loop sees it first
			stop.guard(func() { settled(lo, envs, p.enqueueSlice(ctx, spec, envs, t)) })
		})
	}
	return nil
}

// enqueueSlice enqueues one slice of an EnqueueBatch through the
// middleware, with its turn t in ctx. The innermost publish tells t once
// the tasks are sent if the middleware passed the slice on whole; else
// publishSlices does when this returns.
func (p *Producer) enqueueSlice(ctx context.Context, spec tasks.Spec, envs []*tasks.Envelope, t *turn) []error {
	if err := ctx.Err(); err != nil {
		errs := make([]error, len(envs))
		for i := range errs {
			errs[i] = fmt.Errorf("producer: %w", err)
		}
		return errs
	}
	errs := p.enqueue(context.WithValue(ctx, turnKey{}, t), envs)
	p.recordQueued(ctx, spec, envs, errs)
	return errs
}

// turnKey is the context key of the turn of the EnqueueBatch slice that a
// call through the middleware carries. The turn travels with the call, as
// the ctx the middleware pass on, and lives as long as that call.
type turnKey struct{}

// turnOf returns the turn that ctx carries if batch is its slice, whole
// and in order, as the middleware received it, else nil: the tasks of a
// slice the middleware split, or of another producer's enqueue made with
// the same ctx, are not all of the turn's.
func turnOf(ctx context.Context, batch []*tasks.Envelope) *turn {
	t, _ := ctx.Value(turnKey{}).(*turn)
	if t == nil || !slices.Equal(batch, t.envs) {
		return nil
	}
	return t
}

// A turn says when the tasks of one EnqueueBatch slice are sent, so that the
// next slice goes out after them.
type turn struct {
	envs []*tasks.Envelope // the slice's tasks
	done chan struct{}     // closed once they are sent, or never will be
	once sync.Once
}

// sent records that the slice's tasks are sent, or that they never will be.
func (t *turn) sent() {
	if t != nil {
		t.once.Do(func() { close(t.done) })
	}
}

// wait returns once the slice's tasks are sent or ctx has ended; at once
// for a nil turn (the first slice has none before it).
func (t *turn) wait(ctx context.Context) {
	if t == nil {
		return
	}
	select {
	case <-t.done:
	case <-ctx.Done():
	}
}

// abort records the first panic or runtime.Goexit in the goroutines of one
// EnqueueBatch.
type abort struct {
	set    atomic.Bool
	once   sync.Once
	value  any
	goexit bool
}

// guard runs f, recording a panic or Goexit in it.
func (a *abort) guard(f func()) {
	normal := false
	defer func() {
		if !normal {
			r := recover() // nil only for Goexit: panic(nil) panics with a *runtime.PanicNilError
			a.once.Do(func() { a.value, a.goexit = r, r == nil })
			a.set.Store(true)
		}
	}()
	f()
	normal = true
}

// happened reports whether a goroutine panicked or exited.
func (a *abort) happened() bool { return a.set.Load() }

// raise waits for the goroutines, then panics or exits as the first of them
// did, if one did.
func (a *abort) raise(wg *sync.WaitGroup) {
	wg.Wait()
	if !a.set.Load() {
		return
	}
	if a.goexit {
		runtime.Goexit()
	}
	panic(a.value)
}
