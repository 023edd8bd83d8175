package settle

import (
	"context"
	"sync"
	"time"
)

// deadlineCtx is the context one attempt runs under: its parent's, ending at
// a deadline or when the attempt returns. Unlike [context.WithDeadline] it
// arms no timer and registers nothing with its parent until Done is first
// called. A handler that returns without waiting on its ctx — most of them —
// costs one allocation, instead of a timer and an entry in the parent's
// child set, which every handler of the worker takes the same lock to add
// and remove.
//
// Err looks at the clock and the parent while Done has not been asked for,
// so it reports the deadline and the parent's end on time either way.
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time

	mu    sync.Mutex
	done  chan struct{} // made by the first Done
	err   error         // set once, when the context ends
	timer *time.Timer   // armed by the first Done
	stop  func() bool   // unregisters from the parent, set by the first Done
}

func withDeadline(parent context.Context, deadline time.Time) *deadlineCtx {
	if pd, ok := parent.Deadline(); ok && pd.Before(deadline) {
		deadline = pd
	}
	return &deadlineCtx{parent: parent, deadline: deadline}
}

// Deadline returns the earlier of the attempt's deadline and the parent's.
func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Value returns the parent's value for key.
func (c *deadlineCtx) Value(key any) any { return c.parent.Value(key) }

// Done returns a channel closed when the context ends, arming the deadline's
// timer and the watch on the parent the first time.
func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	c.done = make(chan struct{})
	if c.err == nil {
		c.check()
	}
	if c.err != nil {
		close(c.done)
		return c.done
	}
	c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.end(context.DeadlineExceeded) })
	if c.parent.Done() != nil {
		c.stop = context.AfterFunc(c.parent, func() { c.end(c.parent.Err()) })
	}
	return c.done
}

// Err returns nil while the context lasts, then why it ended.
func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.done == nil {
		// Nothing armed to tell us: look.
		c.check()
	}
	return c.err
}

// check ends the context if its parent has ended or its deadline passed.
// It runs with mu held, before Done has armed anything.
func (c *deadlineCtx) check() {
	if err := c.parent.Err(); err != nil {
		c.err = err
	} else if !time.Now().Before(c.deadline) {
		c.err = context.DeadlineExceeded
	}
}

// end ends the context with err, unless it has ended already, and releases
// the timer and the watch on the parent.
func (c *deadlineCtx) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.stop != nil {
		c.stop()
	}
}

// String names the context, as the standard library's contexts do.
func (c *deadlineCtx) String() string {
	return "jetq.attempt(deadline " + c.deadline.String() + ")"
}
