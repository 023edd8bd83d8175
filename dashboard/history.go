package dashboard

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/topology"
)

// history shares one read of the server's history (inspect's History: an
// hour, a point a minute, written by the workers) between the overview's
// refreshes, for a sixth of a step: the chart is at most that late, and
// the server read an hour's samples at most six times a step.
type history struct {
	mu  sync.Mutex
	in  *inspect.Inspector
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
func (c *history) get(ctx context.Context, js jetstream.JetStream, pub topology.Topology) (inspect.History, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < historyMaxAge(c.h.Step) {
		return c.h, c.err
	}
	if c.in == nil {
		in, err := inspect.New(js, inspect.WithTopology(pub))
		if err != nil {
			return inspect.History{}, err
		}
		c.in = in
	}
	c.h, c.err = c.in.History(ctx, inspect.HistoryQuery{})
	c.at = time.Now()
	return c.h, c.err
}
