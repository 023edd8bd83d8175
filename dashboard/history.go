package dashboard

import (
	"context"
	"sync"
	"time"

	"github.com/jetq/jetq/inspect"
)

// history shares one read of the server's history (inspect's History: an
// hour, a point a minute, written by the workers) between the overview's
// refreshes, for a sixth of a step: the chart is at most that late, and
// the server read an hour's samples at most six times a step.
type history struct {
	mu  sync.Mutex
	at  time.Time
	h   inspect.History
	err error
}

// historyMaxAge bounds how long one read serves: a sixth of the step, from
// a second to ten.
func historyMaxAge(step time.Duration) time.Duration {
	return min(max(step/6, time.Second), 10*time.Second)
}

// get returns the last hour's history, reading it if the last read is too
// old. An error is kept as long as a history would be.
func (c *history) get(ctx context.Context, in *inspect.Inspector) (inspect.History, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < historyMaxAge(c.h.Step) {
		return c.h, c.err
	}
	c.h, c.err = in.History(ctx, inspect.HistoryQuery{})
	c.at = time.Now()
	return c.h, c.err
}
