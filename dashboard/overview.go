package dashboard

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/inspect"
)

// Overview is the overview's data, also served as JSON at /api/overview.
type Overview struct {
	// Queues are the task types, sorted by queue then task.
	Queues []inspect.QueueStats `json:"queues"`
	// Totals adds up Queues.
	Totals Totals `json:"totals"`
	// Workers counts the live worker processes.
	Workers int `json:"workers"`
	// Rates are the chart's points, oldest first.
	Rates []Rate `json:"rates"`
	// At is when it was read.
	At time.Time `json:"at"`
}

// Totals are the overview's counts over every task type.
type Totals struct {
	Pending      uint64 `json:"pending"`
	InFlight     int    `json:"in_flight"`
	DeadLettered uint64 `json:"dead_lettered"`
}

func (d *Dashboard) readOverview(r *http.Request) (Overview, error) {
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	rows, err := d.stats.get(ctx, d.in)
	if err != nil {
		return Overview{}, err
	}
	ws, err := d.in.Workers(ctx)
	if err != nil {
		return Overview{}, err
	}
	filed, err := d.filed(ctx)
	if err != nil {
		return Overview{}, err
	}
	now := time.Now()
	o := Overview{Queues: orEmpty(rows), Workers: len(ws), Rates: orEmpty(d.history.add(now, ws, filed)), At: now}
	for _, r := range rows {
		o.Totals.Pending += r.Pending
		o.Totals.InFlight += r.InFlight
		o.Totals.DeadLettered += r.DeadLettered
	}
	return o, nil
}

// filed counts the dead-letter records ever filed: the stream's last
// sequence, which replays, purges and expiry leave as it is.
func (d *Dashboard) filed(ctx context.Context) (uint64, error) {
	s, err := d.js.Stream(ctx, d.names.DLQStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return s.CachedInfo().State.LastSeq, nil
}

// statsMaxAge is how long one read of the queue statistics serves every
// page: the overview of several browser tabs, the dead-letter and the
// scheduled pages.
const statsMaxAge = time.Second

// statsCache shares a read of the queue statistics between requests, and
// lets one request at a time make it.
type statsCache struct {
	mu   sync.Mutex
	at   time.Time
	rows []inspect.QueueStats
}

func (c *statsCache) get(ctx context.Context, in *inspect.Inspector) ([]inspect.QueueStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < statsMaxAge {
		return c.rows, nil
	}
	rows, err := in.Queues(ctx)
	if err != nil {
		return nil, err
	}
	c.rows, c.at = rows, time.Now()
	return rows, nil
}
