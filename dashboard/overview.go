package dashboard

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

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
	// History is the last hour, a point a step, as the workers wrote it:
	// the chart's points and the task types' wait times.
	History inspect.History `json:"history"`
	// Pauses are the pauses in force (inspect.Inspector.Pauses).
	Pauses []inspect.Pause `json:"pauses"`
	// Limits are the rate limits and concurrencies per key of the task
	// types live workers serve, and what of them is in use
	// (inspect.Inspector.Limits).
	Limits []inspect.Limits `json:"limits"`
	// LimitsNote says why Limits could not be read, if it could not.
	LimitsNote string `json:"limits_note,omitempty"`
	// HistoryNote says why History has no points, if it has none.
	HistoryNote string `json:"history_note,omitempty"`
	// At is when it was read.
	At time.Time `json:"at"`
}

// Latency is the history of the task type of queue and task: its wait
// times over the last hour. It is zero for a type no worker started.
func (o Overview) Latency(queue, task string) inspect.TypeHistory {
	for _, th := range o.History.Types {
		if th.Queue == queue && th.Task == task {
			return th
		}
	}
	return inspect.TypeHistory{}
}

// Totals are the overview's counts over every task type.
type Totals struct {
	Pending      uint64 `json:"pending"`
	InFlight     int    `json:"in_flight"`
	DeadLettered uint64 `json:"dead_lettered"`
}

// noHistory is the chart's note when the history has no points.
const noHistory = "No history yet: each running worker writes a point a minute, and this deployment's have written none in the last hour (workers before jetq's history write none)."

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
	ps, err := d.in.Pauses(ctx)
	if err != nil {
		return Overview{}, err
	}
	o := Overview{Queues: orEmpty(rows), Pauses: orEmpty(ps), Workers: len(ws), At: time.Now()}
	for _, r := range rows {
		o.Totals.Pending += r.Pending
		o.Totals.InFlight += r.InFlight
		o.Totals.DeadLettered += r.DeadLettered
	}
	// Nor are the limits: without them the queues show.
	ls, err := d.in.Limits(ctx)
	if err != nil {
		d.cfg.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot read the limits", slog.String("error", err.Error()))
		o.LimitsNote = "Limits unavailable: " + err.Error()
	}
	o.Limits = orEmpty(ls)
	// The chart is not worth the page: without history the rest shows.
	o.History, err = d.history.get(ctx, d.in)
	switch {
	case err != nil:
		d.cfg.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot read the history", slog.String("error", err.Error()))
		o.History = inspect.History{Window: time.Hour, Points: []inspect.Point{}, Types: []inspect.TypeHistory{}}
		o.HistoryNote = "History unavailable: " + err.Error()
	case len(o.History.Points) == 0:
		o.HistoryNote = noHistory
	}
	return o, nil
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

// drop forgets the last read: an action changed what it says.
func (c *statsCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = time.Time{}
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
