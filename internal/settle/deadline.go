package settle

import (
	"context"
	"sync"
	"time"
)

// Ctx is the context one attempt runs under: its parent's, ending at
// a deadline or when the attempt returns. It is [context.WithDeadline] made
// only when Done is first called. A handler that returns without waiting on
// its ctx — most of them — costs at most the Ctx itself, instead of a timer
// and an entry in the parent's child set, which every handler of the worker
// takes the same lock to add and remove. Once made, the real context answers
// Done, Err and Value, so contexts derived from this one register with it
// directly, as with any standard context.
//
// While nothing is made, Err looks at the clock and the parent, so it
// reports the deadline and the parent's end on time either way.
//
// A caller that allocates per delivery anyway can hold the Ctx in its own
// value and pass it to [Attempt]; a Ctx serves one attempt.
type Ctx struct {
	parent   context.Context
	deadline time.Time

	mu     sync.Mutex
	inner  context.Context // context.WithDeadline(parent, deadline), made by the first Done
	cancel context.CancelFunc
	err    error // why it ended before inner was made
}

// closed is the Done channel of a context that ended before anyone asked.
var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// start makes c the context of an attempt under parent ending at deadline,
// or at the parent's deadline if that is sooner.
func (c *Ctx) start(parent context.Context, deadline time.Time) *Ctx {
	if pd, ok := parent.Deadline(); ok && pd.Before(deadline) {
		deadline = pd
	}
	c.parent, c.deadline = parent, deadline
	return c
}

// Deadline returns the earlier of the attempt's deadline and the parent's.
func (c *Ctx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done returns a channel closed when the context ends, making the real
// context the first time.
func (c *Ctx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner == nil {
		if c.err == nil {
			c.check()
		}
		if c.err != nil {
			return closed
		}
		c.inner, c.cancel = context.WithDeadline(c.parent, c.deadline)
	}
	return c.inner.Done()
}

// Err returns nil while the context lasts, then why it ended.
func (c *Ctx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner != nil {
		return c.inner.Err()
	}
	if c.err == nil {
		c.check() // nothing made to tell us: look
	}
	return c.err
}

// Value returns the real context's value for key once it is made, the
// parent's before: the standard library finds the real context's
// cancellation through it.
func (c *Ctx) Value(key any) any {
	c.mu.Lock()
	inner := c.inner
	c.mu.Unlock()
	if inner != nil {
		return inner.Value(key)
	}
	return c.parent.Value(key)
}

// check ends the context if its parent has ended or its deadline passed.
// It runs with mu held, before the real context is made.
func (c *Ctx) check() {
	if err := c.parent.Err(); err != nil {
		c.err = err
	} else if !time.Now().Before(c.deadline) {
		c.err = context.DeadlineExceeded
	}
}

// end ends the context with context.Canceled, unless it has ended already,
// and releases the real context's timer and its place in the parent.
func (c *Ctx) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner != nil {
		c.cancel()
	} else if c.err == nil {
		c.err = context.Canceled
	}
}

// String names the context, as the standard library's contexts do.
func (c *Ctx) String() string {
	return "jetq.attempt(deadline " + c.deadline.String() + ")"
}
