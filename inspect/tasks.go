package inspect

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// errUnbuilt marks a method whose body is still to come on this branch.
var errUnbuilt = errors.New("inspect: not built yet")

// State is where a task stands, as [Inspector.Tasks] lists it.
type State string

// The states [Inspector.Tasks] lists.
const (
	// Pending: stored in the work stream and not yet delivered to a worker.
	Pending State = "pending"
	// Running: a handler of a live worker runs it.
	Running State = "running"
	// Retrying: delivered and not settled, and no live worker holds it: an
	// attempt failed and it waits out its backoff (or its worker is gone
	// and it is due again after its ack wait).
	Retrying State = "retrying"
	// Scheduled: a delayed task waiting in the schedule stream for its time.
	Scheduled State = "scheduled"
	// Completed: a handler succeeded, as far as the task type keeps a
	// record of it.
	Completed State = "completed"
	// Failed: dead-lettered, with its reason.
	Failed State = "failed"
)

// Query selects and pages the tasks [Inspector.Tasks] lists.
type Query struct {
	// State is the list to read; required.
	State State
	// Queue and Task keep the tasks of one queue or one task type; empty
	// keeps every one.
	Queue, Task string
	// Since and Until keep the tasks enqueued in [Since, Until); zero
	// leaves that side open.
	Since, Until time.Time
	// Where keeps the tasks whose JSON payload has Value at Path.
	Where *Match
	// Limit bounds the page; 0 means 50.
	Limit int
	// Scan bounds how many messages one page reads looking for its tasks
	// (see [Page.Partial]); 0 means [DefaultScan], at most [MaxScan]. Only
	// a filter that skips messages (Where, or many tasks in flight) reads
	// more messages than its page holds.
	Scan int
	// Token continues from the page that returned it ([Page.Next]).
	Token string
}

// Match is a condition on a task's JSON payload: the value at Path, a
// dot-separated path of object keys such as "customer.id", equals Value,
// compared as JSON (42 matches 42 and "42" matches "42").
type Match struct {
	Path  string
	Value string
}

// Page is one page of a task list.
type Page struct {
	Tasks []TaskInfo
	// Next is the token of the next page; empty on the last.
	Next string
	// Scanned counts the messages the page read to find its tasks: its
	// tasks, those the filters left out, and, in the pending list, the
	// messages delivered already that lie between pending ones.
	Scanned int
	// Partial reports that the page stopped at its scan bound
	// ([Query.Scan]) before it was full: more tasks may match further on,
	// and Next continues from where it stopped.
	Partial bool
	// Note says what the list could not show or how far it looked: the
	// running tasks of workers too old to list them, counted; the status
	// records a completed list read.
	Note string
}

// Ref names one task for an action: its ID and, where known, the sequence
// of its message in the stream that holds it, as every listed [TaskInfo]
// has it.
type Ref struct {
	ID  string
	Seq uint64
}

// TaskInfo is one task of a list.
type TaskInfo struct {
	ID    string `json:"id"`
	Task  string `json:"task"`
	Queue string `json:"queue"`
	State State  `json:"state"`
	// Seq is the sequence of its message in the stream that holds it: the
	// work stream, the schedule stream or the dead-letter stream.
	Seq        uint64    `json:"seq"`
	EnqueuedAt time.Time `json:"enqueued_at"`
	// Position is a pending task's place in its task type's queue, 1 next.
	Position uint64 `json:"position,omitempty"`
	// Worker, Attempt, StartedAt and Progress describe a running task.
	Worker    string           `json:"worker,omitempty"`
	Attempt   int              `json:"attempt,omitempty"`
	StartedAt time.Time        `json:"started_at,omitzero"`
	Progress  *status.Progress `json:"progress,omitempty"`
	// NextAttemptAt and LastError describe a retrying task.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	// RunAt is when a scheduled task is due.
	RunAt time.Time `json:"run_at,omitzero"`
	// FinishedAt, Reason and Error describe a completed or failed task.
	FinishedAt time.Time    `json:"finished_at,omitzero"`
	Reason     tasks.Reason `json:"reason,omitempty"`
	Error      string       `json:"error,omitempty"`
	// Header and Payload are the task's message.
	Header  nats.Header `json:"header,omitempty"`
	Payload []byte      `json:"payload,omitempty"`
}

// Ref is the reference an action takes to this task.
func (t TaskInfo) Ref() Ref { return Ref{ID: t.ID, Seq: t.Seq} }

// Tasks returns one page of the tasks in q.State.
func (in *Inspector) Tasks(ctx context.Context, q Query) (Page, error) {
	return Page{}, errUnbuilt
}
