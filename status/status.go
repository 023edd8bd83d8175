package status

import (
	"time"

	"github.com/jetq/jetq/tasks"
)

// State is where a tracked task stands.
type State string

// The states of a tracked task.
const (
	// Queued: enqueued (or handed back, or replayed) and waiting for a worker.
	Queued State = "queued"
	// Scheduled: a delayed task waiting for its time (RunAt).
	Scheduled State = "scheduled"
	// Running: a handler is working on it.
	Running State = "running"
	// Retrying: an attempt failed; the next comes at NextAttemptAt.
	Retrying State = "retrying"
	// Done: a handler succeeded. Final.
	Done State = "done"
	// DeadLettered: filed in the dead-letter stream with a reason. Final
	// until the record is replayed.
	DeadLettered State = "dead_lettered"
	// Expired: picked up after its deadline and dropped unrun. Final.
	Expired State = "expired"
	// Cancelled: cancelled by an operator (inspect's Cancel): withdrawn
	// before it ran, or its running handler stopped. Final.
	Cancelled State = "cancelled"
)

// Final reports whether nothing more happens to the task by itself.
func (s State) Final() bool {
	return s == Done || s == DeadLettered || s == Expired || s == Cancelled
}

// Status is the recorded state of a task whose definition tracks it
// (tasks.WithStateTracking), or the final outcome of a task whose
// definition keeps it (tasks.WithRetention, tasks.DefineResult): written
// once, when the task settles, and deleted by the server after the
// retention.
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
	// RunAt is when a delayed task is due.
	RunAt time.Time `json:"run_at,omitzero"`
	// Deadline is when the task stops being worth starting: a task still
	// queued or scheduled a minute past it reads as Expired (the server's
	// TTL has removed it; a worker that picks one up before records it).
	Deadline time.Time `json:"deadline,omitzero"`
	// Reason and Error say why a task was dead-lettered; Error also holds the
	// last failure of a retrying task.
	Reason tasks.Reason `json:"reason,omitempty"`
	Error  string       `json:"error,omitempty"`
	// Progress is what the handler last reported with tasks.ReportProgress.
	// The record keeps it when the attempt ends: while State is not
	// Running it is the last progress of an attempt that ended, not of one
	// under way, and a reader shows it so (the dashboard and `jetq task
	// show` label it for a task that failed and leave it out for one done).
	Progress *Progress `json:"progress,omitempty"`
	// StartedAt and FinishedAt bound the last attempt of a task whose
	// type keeps its outcome (tasks.WithRetention) once it is final.
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Result is the encoded result of a succeeded result task
	// (tasks.DefineResult), in its codec's ContentType; a result too large
	// for the record is in the results object store under ResultRef
	// instead. ResultSize is its size in bytes either way.
	Result      []byte `json:"result,omitempty"`
	ResultRef   string `json:"result_ref,omitempty"`
	ResultSize  int    `json:"result_size,omitempty"`
	ContentType string `json:"content_type,omitempty"`
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
