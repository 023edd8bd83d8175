package inspect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// DefaultScan is how many work-stream messages Find reads at most to find
// a task's message.
const DefaultScan = 1000

// DefaultDeadLetterScan is how many dead-letter records Find reads at most,
// newest first.
const DefaultDeadLetterScan = 5000

// Lookup is everything found about one task ID. The JSON field names are
// snake_case.
type Lookup struct {
	ID string `json:"id"`
	// Status is the status record of a tracked task (tasks.WithStateTracking).
	Status *status.Status `json:"status"`
	// DeadLetters are its dead-letter records, oldest first: several when it
	// failed again after a replay.
	DeadLetters []DeadLetter `json:"dead_letters"`
	// Work is its message in the work stream, while it is queued or running.
	Work *Work `json:"work"`
	// Scheduled is the delayed task waiting for its time, as the
	// scheduled list has it.
	Scheduled *TaskInfo `json:"scheduled"`
	// Notes say what was not looked at, or only in part.
	Notes []string `json:"notes,omitempty"`
}

// Work is a task's message in the work stream.
type Work struct {
	Stream  string `json:"stream"`
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"`
	Task    string `json:"task"`
	Queue   string `json:"queue"`
	// State is one of the Work states: WorkQueued, WorkRunning,
	// WorkWaitingToRetry or WorkDelivered.
	State    string      `json:"state"`
	StoredAt time.Time   `json:"stored_at"`
	Header   nats.Header `json:"header,omitempty"`
	Payload  []byte      `json:"payload,omitempty"`
}

// The states of a task's message in the work stream. The server tells
// only whether the message was delivered; which of the delivered states
// it is comes from the task's status record, so an untracked task
// delivered and not acknowledged is WorkDelivered.
const (
	// WorkQueued: stored and not delivered to a worker yet.
	WorkQueued = "queued"
	// WorkRunning: delivered, and its status says a handler runs it.
	WorkRunning = "running"
	// WorkWaitingToRetry: delivered, and its status says an attempt failed
	// and the next is still to come: it waits out its backoff, and no
	// worker holds it.
	WorkWaitingToRetry = "waiting_to_retry"
	// WorkDelivered: delivered and not acknowledged, and no status says
	// more: a handler runs it, a worker holds it in its prefetch, it waits
	// out a retry backoff, or its worker is gone and it is due again after
	// its ack wait.
	WorkDelivered = "delivered"
)

// Found reports whether anything was found.
func (r Lookup) Found() bool {
	return r.Status != nil || len(r.DeadLetters) > 0 || r.Work != nil || r.Scheduled != nil
}

// Task is the queue and name of the task, from whatever was found; empty
// when nothing was.
func (r Lookup) Task() (queue, name string) {
	switch {
	case r.Status != nil && r.Status.Task != "":
		return r.Status.Queue, r.Status.Task
	case len(r.DeadLetters) > 0:
		e := r.DeadLetters[len(r.DeadLetters)-1]
		return e.Queue, e.Task
	case r.Scheduled != nil:
		return r.Scheduled.Queue, r.Scheduled.Task
	case r.Work != nil:
		return r.Work.Queue, r.Work.Task
	}
	return "", ""
}

// Find looks the task with ID id up wherever the server holds it: its
// status record, its dead-letter records, its message in the work stream
// while it is queued or running, and the delayed task still waiting for
// its time. `jetq task show` and the dashboard's task page print what it
// finds. A result that found nothing is not an error: see [Lookup.Found].
// It returns an error when a source could not be read, and one wrapping
// [ErrInvalidQuery] for an empty id.
//
// It creates nothing on the server. Neither the work stream nor the
// dead-letter stream is indexed by task ID, so Find reads their messages
// and matches the ID: on the task's own subjects when its status record or
// schedule names the task, on every task subject otherwise. It reads at
// most the newest [WithDeadLetterScan] dead-letter records (default
// [DefaultDeadLetterScan]) and the oldest [WithScan] work-stream messages
// (default [DefaultScan]), and says so in [Lookup.Notes] when it stopped
// there.
//
// The server tells whether a work-stream message was delivered, not what
// became of the delivery: a handler may run it, a worker may hold it in its
// prefetch, or it may wait out a retry backoff. [Work.State] says
// [WorkRunning] or [WorkWaitingToRetry] when the task's status record says
// so, and [WorkDelivered] when there is no status to tell, so that the work
// stream never calls running a task that its status says waits to retry.
func (in *Inspector) Find(ctx context.Context, id string) (Lookup, error) {
	if id == "" {
		return Lookup{}, fmt.Errorf("%w: the task ID is empty", ErrInvalidQuery)
	}
	r := Lookup{ID: id, DeadLetters: []DeadLetter{}}
	var err error
	if r.Status, err = in.foundStatus(ctx, id); err != nil {
		return Lookup{}, err
	}
	if r.Scheduled, err = in.foundDelayed(ctx, id); err != nil {
		return Lookup{}, err
	}
	if err := in.foundDeadLetters(ctx, &r); err != nil {
		return Lookup{}, err
	}
	if err := in.foundWork(ctx, &r); err != nil {
		return Lookup{}, err
	}
	return r, nil
}

// foundStatus reads the status record, without creating the bucket.
func (in *Inspector) foundStatus(ctx context.Context, id string) (*status.Status, error) {
	st, err := in.Status(ctx, id)
	switch {
	case errors.Is(err, status.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &st, nil
}

// foundDeadLetters reads the task's dead-letter records, newest first, at most
// the bound of them: on its task type's subject when its name is known,
// on every subject otherwise.
func (in *Inspector) foundDeadLetters(ctx context.Context, r *Lookup) error {
	queue, name := r.Task()
	p, err := in.DeadLetterPage(ctx, DeadLetterFilter{Queue: queue, Task: name, ID: r.ID, Order: NewestFirst, Limit: -1, MaxRead: max(in.deadLetterScan, 0)})
	if err != nil {
		return err
	}
	if p.Partial {
		where := "dead-letter records"
		if name != "" {
			where = "dead-letter records of " + queue + "/" + name
		}
		r.Notes = append(r.Notes, fmt.Sprintf("read the newest %d %s; older ones were not looked at "+
			"(inspect.WithDeadLetterScan reads further)", p.Read, where))
	}
	slices.Reverse(p.Entries) // oldest first
	for i, e := range p.Entries {
		if e.Truncated { // the whole original, as FindDeadLetters gives it
			if p.Entries[i], err = in.DeadLetter(ctx, e.Seq); err != nil {
				return err
			}
		}
	}
	r.DeadLetters = p.Entries
	return nil
}

// foundDelayed reads the delayed task.
func (in *Inspector) foundDelayed(ctx context.Context, id string) (*TaskInfo, error) {
	_, _, t, err := in.schedule(ctx, Ref{ID: id})
	switch {
	case errors.Is(err, ErrMovedOn), errors.Is(err, ErrUnsupported):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &t, nil
}

// foundWork finds the task's message in the work stream.
func (in *Inspector) foundWork(ctx context.Context, r *Lookup) error {
	if in.workScan == 0 {
		r.Notes = append(r.Notes, "work stream not looked at (scan 0)")
		return nil
	}
	names := in.names
	work, err := in.js.Stream(ctx, names.WorkStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect: stream %s: %w", names.WorkStream(), err)
	}
	subject := names.WorkSubjects()
	if q, n := r.Task(); n != "" {
		subject = names.TaskSubject(q, n)
	}
	m, read, err := scanWork(ctx, work, subject, r.ID, in.workScan)
	if err != nil {
		return err
	}
	if m == nil {
		if read >= in.workScan {
			r.Notes = append(r.Notes, fmt.Sprintf("read the first %d messages on %s in %s without finding the task; "+
				"more follow: a larger scan (inspect.WithScan, jetq task show --scan) reads further", read, subject, names.WorkStream()))
		}
		return nil
	}
	r.Work, err = in.workOf(ctx, m, r.Status)
	return err
}

// scanWork reads the messages on subject in the work stream, oldest first, at
// most limit, until one carries the task ID id. It returns that message,
// or nil, and how many it read.
func scanWork(ctx context.Context, s jetstream.Stream, subject, id string, limit int) (*jetstream.RawStreamMsg, int, error) {
	stream := s.CachedInfo().Config.Name
	from := uint64(1)
	for read := 0; read < limit; read++ {
		m, err := s.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, read, nil // no more on subject
		}
		if err != nil {
			return nil, read, fmt.Errorf("inspect: read %s: %w", stream, err)
		}
		if wire.TaskID(tasks.Header(m.Header), stream, m.Sequence) == id {
			return m, read + 1, nil
		}
		from = m.Sequence + 1
	}
	return nil, limit, nil
}

// workOf describes a work-stream message; whether it was delivered is what
// its durable consumer delivered so far: the work stream keeps a message
// until it is acknowledged. What a delivered message waits for comes from
// the task's status st, when it has one.
func (in *Inspector) workOf(ctx context.Context, m *jetstream.RawStreamMsg, st *status.Status) (*Work, error) {
	names := in.names
	w := &Work{Stream: names.WorkStream(), Seq: m.Sequence, Subject: m.Subject, State: WorkQueued, StoredAt: m.Time, Header: m.Header, Payload: m.Data}
	q, n, err := names.ParseTaskSubject(m.Subject)
	if err != nil {
		return w, nil
	}
	w.Queue, w.Task = q, n
	c, err := in.js.Consumer(ctx, names.WorkStream(), names.Durable(q, n))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return w, nil // no worker ever ran this task: queued
	}
	if err != nil {
		return nil, fmt.Errorf("inspect: consumer %s: %w", names.Durable(q, n), err)
	}
	if c.CachedInfo().Delivered.Stream >= m.Sequence {
		w.State = deliveredState(st, time.Now())
	}
	return w, nil
}

// deliveredState is the state of a delivered message whose task's status, if
// it has one, is st as of now. A retry whose time has come is delivered
// again, and its status says so only once a handler runs it.
func deliveredState(st *status.Status, now time.Time) string {
	switch {
	case st == nil:
		return WorkDelivered
	case st.State == status.Running:
		return WorkRunning
	case st.State == status.Retrying && st.NextAttemptAt.After(now):
		return WorkWaitingToRetry
	}
	return WorkDelivered
}
