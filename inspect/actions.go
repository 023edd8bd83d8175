package inspect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/fired"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/unique"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// Delete removes the pending task r from the work stream, so that it never
// runs. It first reads the message at r.Seq and checks that it is task
// r.ID and still pending, stored after its type's last delivery. With
// r.Seq 0 it looks for r.ID among the first [DefaultPageScan] messages of the
// pending list, in queue order, and returns an error wrapping [ErrNotFound]
// saying to give the Seq when the task is further back.
//
// It returns an error wrapping [ErrMovedOn], and deletes nothing, for a
// task delivered to a worker already (running, or retrying) or gone from
// the work stream (done, or deleted); one wrapping [ErrNotFound] when the
// message at r.Seq is another task. A task delivered in the instant
// between the check and the delete (one round trip to the server) is
// removed while a worker holds it: that delivery runs, once, and no other
// follows. The server has no conditional delete that would close this.
func (in *Inspector) Delete(ctx context.Context, r Ref) error {
	if r.ID == "" {
		return fmt.Errorf("%w: no task ID: pass the Ref of a listed task (TaskInfo.Ref)", ErrInvalidQuery)
	}
	work, err := in.stream(ctx, in.names.WorkStream())
	if err != nil {
		return err
	}
	if work == nil {
		return fmt.Errorf("inspect: task %q: %w (there is no work stream %s)", r.ID, ErrNotFound, in.names.WorkStream())
	}
	if r.Seq == 0 {
		if r.Seq, err = in.findPending(ctx, r.ID); err != nil {
			return err
		}
	}
	m, err := work.GetMsg(ctx, r.Seq)
	if err != nil && retry.Gone(err) {
		return fmt.Errorf("inspect: task %q (seq %d) is no longer in the work stream: it ran, or was deleted: %w", r.ID, r.Seq, ErrMovedOn)
	}
	if err != nil {
		return fmt.Errorf("inspect: read task %q: %w", r.ID, err)
	}
	queue, name, err := in.names.ParseTaskSubject(m.Subject)
	if err != nil {
		return fmt.Errorf("inspect: seq %d of the work stream is no task: %w", r.Seq, ErrNotFound)
	}
	info := taskInfo(rawMsg(m), work.CachedInfo().Config.Name, queue, name, Pending)
	if info.ID != r.ID {
		return fmt.Errorf("inspect: seq %d of the work stream is task %q, not %q: %w", r.Seq, info.ID, r.ID, ErrNotFound)
	}
	return in.remove(ctx, work, info, slog.LevelInfo)
}

// remove deletes the message of task t, read from work a moment ago,
// if it is still pending, and logs it at level: see [Inspector.Delete].
func (in *Inspector) remove(ctx context.Context, work jetstream.Stream, t TaskInfo, level slog.Level) error {
	c, err := work.Consumer(ctx, in.names.Durable(t.Queue, t.Task))
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		// No worker ever served the type: all its tasks are pending.
	case err != nil:
		return fmt.Errorf("inspect: consumer of %s: %w", t.Task, err)
	case c.CachedInfo().Delivered.Stream >= t.Seq:
		return fmt.Errorf("inspect: task %q was delivered to a worker already (running or retrying): %w", t.ID, ErrMovedOn)
	}
	if err := work.DeleteMsg(ctx, t.Seq); err != nil {
		if retry.Gone(err) {
			return fmt.Errorf("inspect: task %q (seq %d) is no longer in the work stream: it ran, or was deleted: %w", t.ID, t.Seq, ErrMovedOn)
		}
		return fmt.Errorf("inspect: delete task %q: %w", t.ID, err)
	}
	in.withdrawn(ctx, t, level, "jetq: deleted a pending task")
	return nil
}

// findPending returns the sequence of pending task id, looked for among
// the first [DefaultPageScan] messages of the pending list.
func (in *Inspector) findPending(ctx context.Context, id string) (uint64, error) {
	q := Query{State: Pending, Limit: MaxLimit, Scan: DefaultPageScan}
	var tok cursor
	for scanned := 0; scanned < DefaultPageScan; {
		q.Scan = DefaultPageScan - scanned
		p, next, err := in.pending(ctx, q, tok)
		if err != nil {
			return 0, err
		}
		for _, t := range p.Tasks {
			if t.ID == id {
				return t.Seq, nil
			}
		}
		scanned += p.Scanned
		if next == nil {
			return 0, fmt.Errorf("inspect: task %q is not pending: %w", id, ErrNotFound)
		}
		tok = *next
	}
	return 0, fmt.Errorf("inspect: task %q is not among the first %d pending tasks: %w; give its Seq (TaskInfo.Ref of a listed task)", id, DefaultPageScan, ErrNotFound)
}

// withdrawn records that task t was withdrawn before it ran, and logs it
// with msg at level: a tracked task reads status cancelled (a task type
// that keeps its outcome gets its final record), and its unique
// key is released, so that the key takes a task again at once rather than
// when its TTL ends. What cannot be recorded is logged; the task is
// withdrawn all the same.
func (in *Inspector) withdrawn(ctx context.Context, t TaskInfo, level slog.Level, msg string) {
	in.log.LogAttrs(ctx, level, msg, slog.String(keyTaskID, t.ID), slog.String(keyTask, t.Task),
		slog.String(keyQueue, t.Queue), slog.Uint64(keySeq, t.Seq))
	from := func() status.Status {
		return status.Status{ID: t.ID, Task: t.Task, Queue: t.Queue, EnqueuedAt: t.EnqueuedAt}
	}
	cancelled := func(s *status.Status) { s.State = status.Cancelled }
	if err := in.states.SettleFinal(ctx, in.names.Durable(t.Queue, t.Task), t.ID, from, cancelled); err != nil {
		in.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot record the withdrawn task's status",
			slog.String(keyTaskID, t.ID), slog.String(keyError, err.Error()))
	}
	if key := t.Header.Get(wire.HeaderUnique); key != "" {
		if err := unique.New(in.js, in.pub).Release(ctx, tasks.Spec{Queue: t.Queue, Name: t.Task}, key, t.ID); err != nil {
			in.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot release the withdrawn task's unique key; its TTL will",
				slog.String(keyTaskID, t.ID), slog.String(keyError, err.Error()))
		}
	}
}

// schedule reads the schedule of the delayed task r: its stream, the
// message, and the task. A task that does not wait (fired, cancelled,
// never scheduled, or enqueued again since r was listed) is an error
// wrapping [ErrMovedOn].
func (in *Inspector) schedule(ctx context.Context, r Ref) (jetstream.Stream, *jetstream.RawStreamMsg, TaskInfo, error) {
	if r.ID == "" {
		return nil, nil, TaskInfo{}, fmt.Errorf("%w: no task ID: pass the Ref of a listed task (TaskInfo.Ref)", ErrInvalidQuery)
	}
	gone := fmt.Errorf("inspect: task %q: no delayed task waits with this ID: it fired already, was cancelled, or was never scheduled: %w", r.ID, ErrMovedOn)
	st, err := in.scheduleStream(ctx)
	if err != nil || st == nil {
		return nil, nil, TaskInfo{}, cmp.Or(err, gone)
	}
	m, err := st.GetLastMsgForSubject(ctx, in.names.DelayedSubject(r.ID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil, TaskInfo{}, gone
	}
	if err != nil {
		return nil, nil, TaskInfo{}, fmt.Errorf("inspect: read delayed task %q: %w", r.ID, err)
	}
	if r.Seq != 0 && m.Sequence != r.Seq {
		return nil, nil, TaskInfo{}, fmt.Errorf("inspect: delayed task %q was enqueued again since it was listed (seq %d, not %d): list it again: %w", r.ID, m.Sequence, r.Seq, ErrMovedOn)
	}
	t, err := in.delayed(rawMsg(m))
	if err != nil {
		return nil, nil, TaskInfo{}, fmt.Errorf("inspect: delayed task %q: %w", r.ID, err)
	}
	return st, m, t, nil
}

// RunNow runs the scheduled task r now instead of at its time. One message
// to the schedule stream fires the task, with its ID, payload and headers,
// and removes its schedule, both or neither: the server stores it only
// while the schedule is the one read, so a task is never lost, and never
// fired twice by RunNow and the server's scheduler in the same instant.
// The work stream takes it as any fired task. r.Seq, when set, must be the
// schedule's sequence; r.Seq 0 takes the task by ID.
//
// It returns an error wrapping [ErrMovedOn] for a task that no longer
// waits: fired (also in the instant of the call), cancelled, or enqueued
// again since it was listed.
func (in *Inspector) RunNow(ctx context.Context, r Ref) error {
	_, m, t, err := in.schedule(ctx, r)
	if err != nil {
		return err
	}
	ack, err := in.fireNow(ctx, m, t)
	if err != nil {
		return err
	}
	in.log.LogAttrs(ctx, slog.LevelInfo, "jetq: ran a delayed task now", slog.String(keyTaskID, t.ID), slog.String(keyTask, t.Task),
		slog.String(keyQueue, t.Queue), slog.Uint64(keySeq, ack.Sequence))
	return nil
}

// fireNow fires the delayed task t of schedule message m now, if m is
// still its schedule.
func (in *Inspector) fireNow(ctx context.Context, m *jetstream.RawStreamMsg, t TaskInfo) (*jetstream.PubAck, error) {
	msg, err := wire.FireNow(in.names, m.Subject, tasks.Header(m.Header), m.Data, time.Now())
	if err != nil {
		return nil, fmt.Errorf("inspect: delayed task %q: %w", t.ID, err)
	}
	ack, err := in.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(in.names.ScheduleStream()),
		jetstream.WithExpectLastSequenceForSubject(m.Sequence, m.Subject))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return nil, fmt.Errorf("inspect: delayed task %q fired, or was cancelled, as it was to run now: %w", t.ID, ErrMovedOn)
	}
	if err != nil {
		return nil, fmt.Errorf("inspect: run delayed task %q now: %w", t.ID, err)
	}
	return ack, nil
}

// cancelDelayed withdraws the delayed task t of schedule message m of
// stream st, its cancel record stored first. It reports taken, and
// withdraws nothing, when the task fired already and a worker took it: it
// is in the work stream then.
func (in *Inspector) cancelDelayed(ctx context.Context, st jetstream.Stream, m *jetstream.RawStreamMsg, t TaskInfo) (taken bool, err error) {
	if err := in.putCancel(ctx, t.ID, t.Queue, t.Task); err != nil {
		return false, err
	}
	// Sequence 0 is no message's: every delivery of the firing is a copy.
	holder, err := fired.New(in.js, in.pub).Reserve(ctx, fired.Delivery{ID: t.ID, Firing: wire.Firing(tasks.Header(m.Header))})
	if err != nil {
		return false, fmt.Errorf("inspect: cancel delayed task %q: %w", t.ID, err)
	}
	if holder != 0 {
		return true, nil
	}
	if err := st.DeleteMsg(ctx, m.Sequence); err != nil && !retry.Gone(err) {
		return false, fmt.Errorf("inspect: cancel delayed task %q: %w", t.ID, err)
	}
	in.withdrawn(ctx, t, slog.LevelInfo, "jetq: cancelled a delayed task")
	return false, nil
}
