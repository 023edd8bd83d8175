package inspect

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// states are the states in the order they are offered.
var states = []State{Pending, Running, Retrying, Scheduled, Completed, Failed}

// ParseState reads a state as the command line and the dashboard spell it:
// "pending", "running", "retrying", "scheduled", "completed" or "failed",
// in any case. Anything else returns an error wrapping [ErrInvalidQuery]
// that lists them.
func ParseState(s string) (State, error) {
	st := State(strings.ToLower(strings.TrimSpace(s)))
	if !st.valid() {
		return "", fmt.Errorf("%w: unknown state %q: use one of %s", ErrInvalidQuery, s, stateList())
	}
	return st, nil
}

func (s State) valid() bool {
	for _, v := range states {
		if s == v {
			return true
		}
	}
	return false
}

func stateList() string {
	names := make([]string, len(states))
	for i, s := range states {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

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
	// Limit bounds the page; 0 means 50, at most [MaxLimit].
	Limit int
	// Scan bounds how many messages one page reads looking for its tasks
	// (see [Page.Partial]); 0 means [DefaultPageScan], at most
	// [MaxPageScan]. Only a filter that skips messages (Where, or many
	// tasks in flight) reads more messages than its page holds.
	Scan int
	// Token continues from the page that returned it ([Page.Next]). It
	// holds the state, the filters and the place in the list; given with
	// another state or other filters it is refused. Limit and Scan may
	// change from page to page.
	Token string
}

// Bounds of a [Query].
const (
	// DefaultLimit is the page size of a Query without Limit.
	DefaultLimit = 50
	// MaxLimit is the largest page.
	MaxLimit = 1000
	// DefaultPageScan is how many messages a page reads at most, unless
	// Query.Scan says otherwise.
	DefaultPageScan = 10_000
	// MaxPageScan is the largest Query.Scan.
	MaxPageScan = 1_000_000
)

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
	// Position is a pending task's place in its task type's queue, 1 next;
	// 0 where it is not known (a list that starts at Since, on a work
	// stream that does not allow direct gets).
	Position uint64 `json:"position,omitempty"`
	// Worker, Attempt, StartedAt and Progress describe a running task;
	// Attempt and StartedAt also a completed one (its attempts, and when
	// its last attempt began).
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
	// Duration is how long a completed task's last attempt ran
	// (FinishedAt - StartedAt); 0 where the record does not say (a type
	// that tracks its status and keeps no outcome, tasks.WithRetention).
	Duration time.Duration `json:"duration,omitempty"`
	// ResultSize is the size in bytes of a completed task's encoded
	// result (tasks.DefineResult); 0 for none.
	ResultSize int `json:"result_size,omitempty"`
	// Header and Payload are the task's message.
	Header  nats.Header `json:"header,omitempty"`
	Payload []byte      `json:"payload,omitempty"`
}

// Ref is the reference an action takes to this task.
func (t TaskInfo) Ref() Ref { return Ref{ID: t.ID, Seq: t.Seq} }

// Age is how long ago the task was enqueued, at now.
func (t TaskInfo) Age(now time.Time) time.Duration { return max(now.Sub(t.EnqueuedAt), 0) }

// Tasks returns one page of the tasks in q.State that q's filters keep, in
// the order of their list; pass [Page.Next] as the next query's Token for
// the page after. Each list is read from the server as follows, with no
// consumer created and nothing changed (figures: an embedded server, a
// work stream of 1 000 000 pending tasks of 20 types, 2 vCPU; see
// BenchmarkPendingPage):
//
//   - Pending: the tasks of the work stream stored after their type's
//     durable consumer's last delivery (a type with no consumer has all its
//     tasks pending), in stream order, which is the order workers receive
//     them. A page is: the work stream's info; the consumers' infos (one
//     request for one task type, else a listing, 256 consumers a request);
//     on the first page of several types, the stream's subject counts, to
//     start at the lowest first pending task of the types (after each
//     consumer's last delivery, or a direct get of the first message of
//     each type no worker has served yet); and one batched
//     direct get of the page's messages from there, from where the previous
//     page stopped, or, with Since, from the first message stored at Since
//     (the server finds it by time; nothing before it is read). More
//     batches are read only where messages delivered already (running,
//     retrying) or left out by a filter lie between. Positions are counted
//     on a first page and carried in the token to the next ones (which
//     count from the first: as workers take tasks, a later page runs
//     ahead); a list that starts at Since asks for them, one direct get of
//     one message for each type on the page. On 1 000 000 pending tasks of
//     20 types, 100 in flight per type (BenchmarkPendingPage, embedded
//     server, 2 vCPU under a load average of 28): the first page of all
//     types 5 requests, 6 ms; a page half way down 3 requests, 13 ms; the
//     first page of one type 3 requests, 20 ms; a page of one type half way
//     down 3 requests, 45 ms. A Where that matches nothing scans its
//     10 000 messages in 13 requests, 1.9 s.
//   - Scheduled: the delayed tasks waiting in the schedule stream, in the
//     order they were enqueued, with their RunAt: the stream's info and one
//     batched direct get a page (from Since as above), more where a filter
//     leaves schedules out; a schedule's subject names its task by ID, so
//     the Queue and Task filters read every schedule's target.
//   - Running: the deliveries live workers hold, as each worker lists them
//     in its presence entry (JETQ_WORKERS), in stream order, with Worker,
//     Attempt, StartedAt (zero while it waits in the worker's prefetch)
//     and, for types that track their status, Progress. One watch of the
//     presence bucket, then one get a task of the page and one status read
//     a tracked task, all at once: the size of the work stream does not
//     matter. Workers of a release that does not list its deliveries are
//     counted in [Page.Note].
//   - Retrying: delivered and not settled, and held by no live worker:
//     for each type with deliveries not settled, what the work stream
//     still stores between its consumer's ack floor and last delivery, less
//     what presence entries list as held, with NextAttemptAt and LastError
//     from the retries the workers list (each until it falls due) or, for
//     tracked types, the status record. The consumers' infos, one watch of
//     the presence bucket and one batched direct get a type with tasks not
//     settled and not held, plus a status read a tracked task: with 10 000
//     tasks retrying in one type, 6 requests and up to 50 concurrent reads
//     a page of 50, the same for the last page as for the first; with 20
//     types retrying, 25 requests (see BenchmarkStatePages).
//   - Completed: the status records saying done, newest first, read from
//     the end of the status bucket's stream backwards in batched direct
//     gets of 512 records, at most Query.Scan records a page
//     ([Page.Scanned], [Page.Partial], and [Page.Note] says how many of
//     how many), with Attempt, StartedAt, FinishedAt, Duration, Error and
//     ResultSize. Only types that keep their final outcome
//     (tasks.WithRetention: one status write a task at its settlement,
//     kept until the retention ends) or track their status
//     (tasks.WithStateTracking) record a success; the note names the
//     types live workers serve that keep none. The message of a completed
//     task is gone: Seq is 0, and Where is refused. Tasks that failed for
//     good are listed as Failed, from the dead-letter stream, where they
//     can be replayed; an expired or cancelled task is not listed (its
//     record answers Status and Find).
//   - Failed: the dead-letter records, newest first, with Reason, Error
//     and FinishedAt (when the record was filed): batched direct gets of
//     the dead-letter stream on the subject of the types kept, from where
//     the previous page ended.
//
// Where reads each payload of the messages scanned as JSON; a page stops
// after Query.Scan messages (see [Page.Partial]).
//
// A query that cannot be read returns an error wrapping [ErrInvalidQuery]
// that says what is wrong and reads nothing: an unknown or missing state,
// an invalid queue or task name, a malformed Where, Since not before Until,
// a Limit or Scan out of range, a Token that is malformed or was returned
// for another list or other filters.
func (in *Inspector) Tasks(ctx context.Context, q Query) (Page, error) {
	tok, err := q.check()
	if err != nil {
		return Page{}, err
	}
	p, next, err := in.list(ctx, q, tok)
	if err != nil {
		return Page{}, err
	}
	if next != nil {
		p.Next = q.token(*next)
	}
	return p, nil
}

// list reads one page of q from tok with the lister of q.State. A lister
// returns the cursor of the next page, nil on the last.
func (in *Inspector) list(ctx context.Context, q Query, tok cursor) (Page, *cursor, error) {
	switch q.State {
	case Pending:
		return in.pending(ctx, q, tok)
	case Scheduled:
		return in.scheduled(ctx, q, tok)
	case Running:
		return in.running(ctx, q, tok)
	case Retrying:
		return in.retrying(ctx, q, tok)
	case Completed:
		return in.completed(ctx, q, tok)
	case Failed:
		return in.failed(ctx, q, tok)
	}
	return Page{}, nil, fmt.Errorf("%w: unknown state %q: use one of %s", ErrInvalidQuery, q.State, stateList())
}

// check validates q and reads its token: the zero cursor without one.
func (q *Query) check() (cursor, error) {
	switch {
	case q.State == "":
		return cursor{}, fmt.Errorf("%w: no state: set Query.State to one of %s", ErrInvalidQuery, stateList())
	case !q.State.valid():
		return cursor{}, fmt.Errorf("%w: unknown state %q: use one of %s", ErrInvalidQuery, q.State, stateList())
	case q.Limit < 0 || q.Limit > MaxLimit:
		return cursor{}, fmt.Errorf("%w: limit %d out of range: use 1 to %d, or 0 for %d", ErrInvalidQuery, q.Limit, MaxLimit, DefaultLimit)
	case q.Scan < 0 || q.Scan > MaxPageScan:
		return cursor{}, fmt.Errorf("%w: scan bound %d out of range: use 1 to %d, or 0 for %d", ErrInvalidQuery, q.Scan, MaxPageScan, DefaultPageScan)
	case !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until):
		return cursor{}, fmt.Errorf("%w: since %s is not before until %s: swap them, or leave one zero", ErrInvalidQuery,
			q.Since.UTC().Format(time.RFC3339), q.Until.UTC().Format(time.RFC3339))
	}
	if q.Queue != "" {
		if err := tasks.ValidateQueue(q.Queue); err != nil {
			return cursor{}, fmt.Errorf("%w: queue: %w", ErrInvalidQuery, err)
		}
	}
	if q.Task != "" {
		if err := tasks.ValidateName(q.Task); err != nil {
			return cursor{}, fmt.Errorf("%w: task: %w", ErrInvalidQuery, err)
		}
	}
	if q.Where != nil {
		if err := q.Where.check(); err != nil {
			return cursor{}, err
		}
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Scan == 0 {
		q.Scan = DefaultPageScan
	}
	return q.cursor()
}
