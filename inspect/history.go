package inspect

import (
	"context"
	"time"
)

// HistoryQuery selects the history [Inspector.History] returns.
type HistoryQuery struct {
	// Window is how far back to read; 0 means an hour.
	Window time.Duration
	// Queue and Task keep one queue or task type; empty keeps every one.
	Queue, Task string
}

// History is what a deployment did over a window, one point a step.
type History struct {
	Step   time.Duration `json:"step"`
	Points []Point       `json:"points"`
}

// Point is one step of a [History].
type Point struct {
	At time.Time `json:"at"`
	// Enqueued, Succeeded, Failed and DeadLettered count what happened in
	// the step.
	Enqueued, Succeeded, Failed, DeadLettered uint64
	// OldestPendingAge is the age of the oldest pending task at the step's end.
	OldestPendingAge time.Duration `json:"oldest_pending_age"`
	// WaitP50 and WaitP99 are how long tasks started in the step waited.
	WaitP50, WaitP99 time.Duration
}

// History returns what the deployment did over q.Window.
func (in *Inspector) History(ctx context.Context, q HistoryQuery) (History, error) {
	return History{}, errUnbuilt
}
