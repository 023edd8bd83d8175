package inspect

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// Worker is a live worker process, as its presence entry last said. The
// JSON field names are snake_case; durations are in nanoseconds.
type Worker struct {
	// ID names the worker process; it is new at every start.
	ID   string `json:"id"`
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// Concurrency is how many handlers the worker runs at most.
	Concurrency int `json:"concurrency"`
	// StartedAt is when the worker started; LastSeen when it last
	// rewrote its entry, which it does every Interval.
	StartedAt time.Time     `json:"started_at"`
	LastSeen  time.Time     `json:"last_seen"`
	Interval  time.Duration `json:"interval"`
	// Tasks holds, per task type the worker serves, what it holds and
	// what it settled, sorted by queue then task.
	Tasks []WorkerTask `json:"tasks"`
	// InFlight, Running, Succeeded, Failed and DeadLettered add up Tasks.
	InFlight     int    `json:"in_flight"`
	Running      int    `json:"running"`
	Succeeded    uint64 `json:"succeeded"`
	Failed       uint64 `json:"failed"`
	DeadLettered uint64 `json:"dead_lettered"`
}

// WorkerTask is what one worker holds and settled of one task type.
type WorkerTask struct {
	Queue string `json:"queue"`
	Task  string `json:"task"`
	// InFlight counts the deliveries in the worker's hands and not
	// settled: running, queued in its prefetch, or being settled.
	InFlight int `json:"in_flight"`
	// Running counts the handlers running now.
	Running int `json:"running"`
	// Succeeded, Failed, DeadLettered and Expired count the tasks the
	// worker settled since it started: succeeded; failed an attempt, to be
	// retried or dead-lettered; dead-lettered; dropped past their deadline.
	Succeeded    uint64 `json:"succeeded"`
	Failed       uint64 `json:"failed"`
	DeadLettered uint64 `json:"dead_lettered"`
	Expired      uint64 `json:"expired"`
	// NextRetryAt is the earliest retry the worker set that is still to
	// come; zero if none.
	NextRetryAt time.Time `json:"next_retry_at,omitzero"`
}

// Workers returns the live worker processes, oldest first, read from their
// presence entries in the JETQ_WORKERS bucket (see [Inspector.Queues]
// documentation). A worker that stopped deleted its entry; the entry of
// one that died expires three presence intervals after its last write, so
// it leaves the list on its own. With no bucket there are none.
func (in *Inspector) Workers(ctx context.Context) ([]Worker, error) {
	ps, err := in.presences(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Worker, 0, len(ps))
	for _, p := range ps {
		w := Worker{ID: p.ID, Host: p.Host, PID: p.PID, Concurrency: p.Concurrency,
			StartedAt: p.Started, LastSeen: p.Updated, Interval: p.Every}
		for _, t := range p.Tasks {
			w.Tasks = append(w.Tasks, WorkerTask{Queue: t.Queue, Task: t.Task, InFlight: t.Held, Running: t.Running,
				Succeeded: t.Succeeded, Failed: t.Failed, DeadLettered: t.DeadLettered, Expired: t.Expired,
				NextRetryAt: t.NextRetryAt})
			w.InFlight += t.Held
			w.Running += t.Running
			w.Succeeded += t.Succeeded
			w.Failed += t.Failed
			w.DeadLettered += t.DeadLettered
		}
		slices.SortFunc(w.Tasks, func(a, b WorkerTask) int {
			return cmp.Or(cmp.Compare(a.Queue, b.Queue), cmp.Compare(a.Task, b.Task))
		})
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b Worker) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}
