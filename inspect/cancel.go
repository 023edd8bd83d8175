package inspect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/cancels"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// Cancel cancels task r, whatever it waits for or does, so that it never
// runs, or runs no further:
//
//   - a delayed task is withdrawn from the schedule stream (its firing is
//     claimed for no delivery first, so a worker drops a copy fired in the
//     same instant unrun);
//   - a queued task is deleted from the work stream;
//   - a running task has its handler's ctx cancelled, on whichever worker
//     runs it, within moments, with cause tasks.ErrCancelled
//     (context.Cause); whatever error the handler then returns settles it
//     as cancelled: terminated, neither retried nor dead-lettered. A
//     handler that returns nil all the same has done its task: it is done.
//     A handler that ignores its ctx runs on until it returns or its
//     timeout abandons it, and is settled as cancelled then.
//
// Before it deletes or cancels anything, Cancel stores a cancel record of
// the task in the JETQ_CANCELS bucket, which every worker watches and
// keeps in memory. A worker settles a task whose record it holds as
// cancelled, unrun, when it picks the task up: a queued task delivered in
// the instant of the delete, a task waiting out a retry backoff, a task
// delivered again after its worker died. The records are kept for
// seven days (wire.CancelWindow). A tracked task reads status cancelled
// once it is settled (a queued, delayed or retrying one at once, a running
// one when its handler returns), and its unique key is released.
//
// r.Seq, when set, is the sequence of the task's message in the stream
// that holds it (as a listed [TaskInfo] has it); r.Seq 0 takes the task
// by ID: its delayed task, the deliveries the live workers hold, and the
// first messages of the work stream (see [WithScan]), on its own subject
// when its status record names its type.
//
// It returns an error wrapping [ErrInvalidQuery] for an empty ID;
// [ErrMovedOn] for a task that finished already (done, dead-lettered,
// expired or cancelled, as its status record, its dead-letter records or
// its cancel record say), or a delayed task enqueued again since r was
// listed; and [ErrNotFound] for an ID found nowhere: unknown, or a task
// that finished and left no record (its type tracks no status), or one
// further back in the work stream than the scan (give its Seq). On an
// error nothing was changed.
func (in *Inspector) Cancel(ctx context.Context, r Ref) error {
	if r.ID == "" {
		return fmt.Errorf("%w: no task ID: give the ID of the task to cancel", ErrInvalidQuery)
	}
	st, m, t, err := in.schedule(ctx, Ref{ID: r.ID})
	var stale error
	switch {
	case err == nil && (r.Seq == 0 || r.Seq == m.Sequence):
		taken, err := in.cancelDelayed(ctx, st, m, t)
		if err != nil || !taken {
			return err
		}
		// It fired, and a worker took it: it is in the work stream.
	case err == nil:
		stale = fmt.Errorf("inspect: delayed task %q was enqueued again since it was listed (seq %d, not %d): list it again: %w", r.ID, m.Sequence, r.Seq, ErrMovedOn)
	case !errors.Is(err, ErrMovedOn):
		return err
	}
	return in.cancelTask(ctx, r, stale)
}

// cancelTask cancels task r, not a delayed task waiting: see
// [Inspector.Cancel]. stale, if not nil, is the error for a task found
// nowhere else, its delayed task enqueued again since r was listed.
func (in *Inspector) cancelTask(ctx context.Context, r Ref, stale error) error {
	st, err := in.foundStatus(ctx, r.ID)
	if err != nil {
		return err
	}
	if st != nil && st.State.Final() {
		return fmt.Errorf("inspect: task %q is %s already: %w", r.ID, st.State, ErrMovedOn)
	}
	work, err := in.stream(ctx, in.names.WorkStream())
	if err != nil {
		return err
	}
	var note string
	if work != nil {
		m, n, err := in.liveMsg(ctx, work, r, st)
		if err != nil {
			return err
		}
		if m != nil {
			return in.cancelWork(ctx, work, m, st)
		}
		note = n
	}
	if stale != nil {
		return stale
	}
	return in.finished(ctx, r.ID, note)
}

// liveMsg finds task r's message in the work stream: see workMsg. A task
// further back than the scan is looked for among the deliveries the live
// workers hold, as their presence entries list them with their sequence;
// an entry is up to a presence interval old, so the message is read again.
func (in *Inspector) liveMsg(ctx context.Context, work jetstream.Stream, r Ref, st *status.Status) (*jetstream.RawStreamMsg, string, error) {
	m, note, err := in.workMsg(ctx, work, r, st)
	if err != nil || m != nil || r.Seq != 0 {
		return m, note, err
	}
	seq, err := in.heldSeq(ctx, r.ID)
	if err != nil || seq == 0 {
		return nil, note, err
	}
	m, _, err = in.workMsg(ctx, work, Ref{ID: r.ID, Seq: seq}, st)
	return m, note, err
}

// workMsg reads task r's message in the work stream: the one at r.Seq, or
// the first of the scan that carries its ID, on its own subject when its
// status st names its type. It returns nil and a note saying how far it
// looked when it finds none.
func (in *Inspector) workMsg(ctx context.Context, work jetstream.Stream, r Ref, st *status.Status) (*jetstream.RawStreamMsg, string, error) {
	stream := work.CachedInfo().Config.Name
	if r.Seq != 0 {
		m, err := work.GetMsg(ctx, r.Seq)
		switch {
		case err != nil && retry.Gone(err):
			return nil, "", nil
		case err != nil:
			return nil, "", fmt.Errorf("inspect: read task %q: %w", r.ID, err)
		case wire.TaskID(tasks.Header(m.Header), stream, m.Sequence) != r.ID:
			return nil, "", nil
		}
		return m, "", nil
	}
	subject := in.names.WorkSubjects()
	if st != nil && st.Task != "" {
		subject = in.names.TaskSubject(st.Queue, st.Task)
	}
	if in.workScan == 0 {
		return nil, "the work stream was not looked at (scan 0)", nil
	}
	m, read, err := scanWork(ctx, work, subject, r.ID, in.workScan)
	if err != nil || m != nil || read < in.workScan {
		return m, "", err
	}
	return nil, fmt.Sprintf("it is not among the first %d messages on %s: give its Seq (TaskInfo.Ref of a listed task), or a larger scan (WithScan)", read, subject), nil
}

// cancelWork cancels the task of work-stream message m, whose status is
// st if it is tracked: a cancel record first, then, if no worker was given
// the task yet, the message's delete. The record makes a delivery that
// races the delete settle as cancelled unrun. A task waiting out a retry
// backoff, as its status says, reads cancelled at once; its next delivery
// is dropped.
func (in *Inspector) cancelWork(ctx context.Context, work jetstream.Stream, m *jetstream.RawStreamMsg, st *status.Status) error {
	queue, name, err := in.names.ParseTaskSubject(m.Subject)
	if err != nil {
		return fmt.Errorf("inspect: seq %d of the work stream is no task: %w", m.Sequence, ErrNotFound)
	}
	t := taskInfo(rawMsg(m), work.CachedInfo().Config.Name, queue, name, Pending)
	if err := in.putCancel(ctx, t.ID, queue, name); err != nil {
		return err
	}
	c, err := work.Consumer(ctx, in.names.Durable(queue, name))
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		// No worker ever served the type: its tasks are all queued.
	case err != nil:
		return fmt.Errorf("inspect: task %q is cancelled, but its consumer cannot be read: %w", t.ID, err)
	case c.CachedInfo().Delivered.Stream >= t.Seq && st != nil && st.State == status.Retrying:
		in.withdrawn(ctx, t, slog.LevelInfo, "jetq: cancelled a task waiting to retry")
		return nil
	case c.CachedInfo().Delivered.Stream >= t.Seq:
		// Running, or waiting out a retry backoff: the worker settles it.
		in.log.LogAttrs(ctx, slog.LevelInfo, "jetq: cancelled a task a worker was given", slog.String(keyTaskID, t.ID),
			slog.String(keyTask, t.Task), slog.String(keyQueue, t.Queue), slog.Uint64(keySeq, t.Seq))
		return nil
	}
	if err := work.DeleteMsg(ctx, t.Seq); err != nil && !retry.Gone(err) {
		return fmt.Errorf("inspect: task %q is cancelled, and a worker will drop it unrun, but it could not be deleted: %w", t.ID, err)
	}
	in.withdrawn(ctx, t, slog.LevelInfo, "jetq: cancelled a queued task")
	return nil
}

// heldSeq is the work-stream sequence of task id among the deliveries the
// live workers hold, 0 when none holds it.
func (in *Inspector) heldSeq(ctx context.Context, id string) (uint64, error) {
	ps, err := in.presences(ctx)
	if err != nil {
		return 0, err
	}
	for _, p := range ps {
		for _, t := range p.Tasks {
			for _, d := range t.Deliveries {
				if d.ID == id {
					return d.Seq, nil
				}
			}
		}
	}
	return 0, nil
}

// putCancel stores the cancel record of task id of queue and name.
func (in *Inspector) putCancel(ctx context.Context, id, queue, name string) error {
	err := cancels.New(in.js, in.pub).Put(ctx, wire.Cancel{ID: id, Queue: queue, Task: name, At: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("inspect: cancel task %q: %w", id, err)
	}
	return nil
}

// finished is the error of Cancel for task id found neither waiting nor
// running: [ErrMovedOn] when a cancel record or a dead-letter record says
// how it finished, else [ErrNotFound], with note saying how far the work
// stream was looked at, if not to its end.
func (in *Inspector) finished(ctx context.Context, id, note string) error {
	if _, ok, err := cancels.New(in.js, in.pub).Find(ctx, id); err != nil {
		return fmt.Errorf("inspect: %w", err)
	} else if ok {
		return fmt.Errorf("inspect: task %q is cancelled already: %w", id, ErrMovedOn)
	}
	p, err := in.DeadLetterPage(ctx, DeadLetterFilter{ID: id, Order: NewestFirst, Limit: 1, MaxRead: max(in.deadLetterScan, 0)})
	if err != nil {
		return err
	}
	if len(p.Entries) > 0 {
		return fmt.Errorf("inspect: task %q is dead-lettered already (record %d): replay it to run it again: %w", id, p.Entries[0].Seq, ErrMovedOn)
	}
	if note != "" {
		return fmt.Errorf("inspect: task %q: no such task waiting or running: %s: %w", id, note, ErrNotFound)
	}
	return fmt.Errorf("inspect: task %q: no such task waiting or running, and no record of it: check the ID "+
		"(a task whose type tracks no status leaves no record once done): %w", id, ErrNotFound)
}

// cancelled counts the cancel records of each task type the collection
// has a row for.
func (c *collection) cancelled(ctx context.Context) error {
	n, err := cancels.New(c.in.js, c.in.pub).Counts(ctx)
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	for k, r := range c.rows {
		r.Cancelled = n[k.queue+"."+k.task]
	}
	return nil
}
