package tasks

import (
	"context"
	"time"
)

// State is where a task stands, as recorded for definitions with
// [WithStateTracking].
type State string

// The states of a tracked task.
const (
	// StateQueued: enqueued (or handed back) and waiting for a worker.
	StateQueued State = "queued"
	// StateRunning: a handler is working on it.
	StateRunning State = "running"
	// StateRetrying: an attempt failed; the next comes at NextAttemptAt.
	StateRetrying State = "retrying"
	// StateDone: a handler succeeded. Final.
	StateDone State = "done"
	// StateDeadLettered: filed in the dead-letter stream with a reason. Final
	// until the record is replayed.
	StateDeadLettered State = "dead_lettered"
)

// Final reports whether nothing more happens to the task by itself.
func (s State) Final() bool { return s == StateDone || s == StateDeadLettered }

// Status is the recorded state of a tracked task.
type Status struct {
	ID    string `json:"id"`
	Task  string `json:"task"`
	Queue string `json:"queue"`
	State State  `json:"state"`
	// Attempt is the attempt running or last run; 0 while first queued.
	Attempt     int `json:"attempt"`
	MaxAttempts int `json:"max_attempts"`
	// NextAttemptAt is when a retrying task runs again.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	// Reason and Error say why a task was dead-lettered; Error also holds the
	// last failure of a retrying task.
	Reason Reason `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// Progress is what the handler last reported with [ReportProgress].
	Progress *Progress `json:"progress,omitempty"`
	// EnqueuedAt is when the task was enqueued; UpdatedAt when this status
	// was recorded.
	EnqueuedAt time.Time `json:"enqueued_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Progress is how far a running handler says it is.
type Progress struct {
	// Percent done, 0 to 100.
	Percent float64 `json:"percent"`
	// Note says what the handler is doing, such as "encoding 1080p".
	Note string `json:"note,omitempty"`
}

// ProgressReporter records progress for the task a ctx belongs to; the
// worker puts one in the handler's ctx for tracked tasks.
type ProgressReporter interface {
	ReportProgress(ctx context.Context, p Progress) error
}

type progressKey struct{}

// WithProgressReporter returns a ctx whose [ReportProgress] calls go to r.
func WithProgressReporter(ctx context.Context, r ProgressReporter) context.Context {
	return context.WithValue(ctx, progressKey{}, r)
}

// ReportProgress records how far the handler running under ctx is, for
// [Status.Progress]. It does nothing and returns nil when the task is not
// tracked (see [WithStateTracking]); an error means the record could not be
// written, which the handler may ignore.
func ReportProgress(ctx context.Context, percent float64, note string) error {
	r, _ := ctx.Value(progressKey{}).(ProgressReporter)
	if r == nil {
		return nil
	}
	return r.ReportProgress(ctx, Progress{Percent: min(max(percent, 0), 100), Note: note})
}
