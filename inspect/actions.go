package inspect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/unique"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// Delete removes the pending task r from the work stream, so that it never
// runs. It first reads the message at r.Seq and checks that it is task
// r.ID and still pending, stored after its type's last delivery. With
// r.Seq 0 it looks for r.ID among the first [DefaultScan] messages of the
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
// the first [DefaultScan] messages of the pending list.
func (in *Inspector) findPending(ctx context.Context, id string) (uint64, error) {
	q := Query{State: Pending, Limit: MaxLimit, Scan: DefaultScan}
	var tok cursor
	for scanned := 0; scanned < DefaultScan; {
		q.Scan = DefaultScan - scanned
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
	return 0, fmt.Errorf("inspect: task %q is not among the first %d pending tasks: %w; give its Seq (TaskInfo.Ref of a listed task)", id, DefaultScan, ErrNotFound)
}

// withdrawn records that task t was withdrawn before it ran, and logs it
// with msg at level: its unique key is released, so that the key takes a
// task again at once rather than when its TTL ends. What cannot be
// recorded is logged; the task is withdrawn all the same.
func (in *Inspector) withdrawn(ctx context.Context, t TaskInfo, level slog.Level, msg string) {
	in.log.LogAttrs(ctx, level, msg, slog.String(keyTaskID, t.ID), slog.String(keyTask, t.Task),
		slog.String(keyQueue, t.Queue), slog.Uint64(keySeq, t.Seq))
	if key := t.Header.Get(wire.HeaderUnique); key != "" {
		if err := unique.New(in.js, in.pub).Release(ctx, tasks.Spec{Queue: t.Queue, Name: t.Task}, key, t.ID); err != nil {
			in.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot release the withdrawn task's unique key; its TTL will",
				slog.String(keyTaskID, t.ID), slog.String(keyError, err.Error()))
		}
	}
}

// RunNow moves a scheduled task to the work stream now.
func (in *Inspector) RunNow(ctx context.Context, r Ref) error { return errUnbuilt }

// Cancel withdraws a scheduled task before it fires.
func (in *Inspector) Cancel(ctx context.Context, r Ref) error { return errUnbuilt }
