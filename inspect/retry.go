package inspect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/fired"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
)

// RetryNow runs the retrying task r now instead of at its next attempt,
// as its next attempt: it keeps its attempt count, so it gets no more
// attempts in all than its MaxAttempts.
//
// The server keeps a retrying task's message pending acknowledgement until
// its retry delay ends, and only the delivery's holder could hand it back
// sooner; no live worker holds it. So RetryNow publishes a copy of the
// message (the same task ID, headers and payload, with Jetq-Retry-Of and
// Jetq-Attempts saying which message it continues and the attempts spent),
// gives the copy the claim of the task's next run, and then deletes the
// original. Before a redelivery or such a copy runs, a worker claims that
// run by task ID in the JETQ_FIRED bucket: if the original's retry falls
// due in between, the original and the copy collapse into one run (the
// loser is terminated unrun), and a copy whose original came again first
// is removed and RetryNow refused. At every step the task is stored once
// or twice, never zero times, and runs once.
//
// It returns an error wrapping [ErrMovedOn], and changes nothing, for a
// task that is no longer retrying: running again (a live worker holds it),
// done or dead-lettered (its message is gone), or pending; one wrapping
// [ErrNotFound] when the message at r.Seq is another task, or when its
// attempt count is unknown: no live worker lists a retry of it still to
// come (each worker lists the retries it set until they fall due) and its
// type does not track its status, as when its retry is due already or its
// worker is gone (it then runs after its ack wait); one wrapping
// [ErrInvalidQuery] without r.ID and r.Seq.
//
// The original's redelivery claims the run only on workers of this release
// or later: during a rolling upgrade, a worker of an older release may run
// the original's retry beside the copy.
func (in *Inspector) RetryNow(ctx context.Context, r Ref) error {
	if r.ID == "" || r.Seq == 0 {
		return fmt.Errorf("%w: a retrying task is named by its ID and Seq: pass the Ref of a listed task (TaskInfo.Ref)", ErrInvalidQuery)
	}
	work, err := in.stream(ctx, in.names.WorkStream())
	if err != nil {
		return err
	}
	if work == nil {
		return fmt.Errorf("inspect: task %q: %w (there is no work stream %s)", r.ID, ErrNotFound, in.names.WorkStream())
	}
	m, err := work.GetMsg(ctx, r.Seq)
	if err != nil && retry.Gone(err) {
		return fmt.Errorf("inspect: task %q (seq %d) is no longer in the work stream: it ran again and finished, or was dead-lettered: %w", r.ID, r.Seq, ErrMovedOn)
	}
	if err != nil {
		return fmt.Errorf("inspect: read task %q: %w", r.ID, err)
	}
	queue, name, err := in.names.ParseTaskSubject(m.Subject)
	if err != nil {
		return fmt.Errorf("inspect: seq %d of the work stream is no task: %w", r.Seq, ErrNotFound)
	}
	t := taskInfo(rawMsg(m), work.CachedInfo().Config.Name, queue, name, Retrying)
	if t.ID != r.ID {
		return fmt.Errorf("inspect: seq %d of the work stream is task %q, not %q: %w", r.Seq, t.ID, r.ID, ErrNotFound)
	}
	c, err := work.Consumer(ctx, in.names.Durable(queue, name))
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Errorf("inspect: task %q was never delivered (pending, not retrying): %w", r.ID, ErrMovedOn)
	case err != nil:
		return fmt.Errorf("inspect: consumer of %s: %w", name, err)
	case c.CachedInfo().Delivered.Stream < r.Seq:
		return fmt.Errorf("inspect: task %q was never delivered (pending, not retrying): %w", r.ID, ErrMovedOn)
	}
	attempts, err := in.attemptsOf(ctx, t)
	if err != nil {
		return err
	}
	firing := wire.RetryFiring(r.Seq, attempts)
	if in.retryHook != nil {
		in.retryHook("publish")
	}
	ack, err := in.js.PublishMsg(ctx, wire.RetryCopy(m.Subject, m.Header, m.Data, t.ID, r.Seq, attempts))
	if err != nil {
		return fmt.Errorf("inspect: publish the copy of task %q that runs now: %w", r.ID, err)
	}
	holder, err := fired.New(in.js, in.pub).Reserve(ctx, fired.Delivery{ID: t.ID, Firing: firing, Seq: ack.Sequence, Attempt: attempts})
	if err != nil {
		// The copy and the original both wait: whichever a worker takes
		// first claims the run, and the other is dropped unrun.
		return fmt.Errorf("inspect: claim the next run of task %q for its copy (seq %d), which the original's retry may still take: %w", r.ID, ack.Sequence, err)
	}
	if holder != ack.Sequence {
		// The original came again first and runs: the copy is not to.
		if err := work.DeleteMsg(ctx, ack.Sequence); err != nil && !retry.Gone(err) {
			in.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot delete a copy not to run; a worker drops it unrun",
				slog.String("task_id", t.ID), slog.Uint64("seq", ack.Sequence), slog.String("error", err.Error()))
		}
		return fmt.Errorf("inspect: task %q is running again, or ran, from its own retry: %w", r.ID, ErrMovedOn)
	}
	if in.retryHook != nil {
		in.retryHook("delete")
	}
	if err := work.DeleteMsg(ctx, r.Seq); err != nil && !retry.Gone(err) {
		// The copy runs; the original, when its retry falls due, finds the
		// run claimed and is dropped unrun.
		in.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot delete the original of a task retried now; a worker drops it unrun at its retry",
			slog.String("task_id", t.ID), slog.Uint64("seq", r.Seq), slog.String("error", err.Error()))
	}
	in.log.LogAttrs(ctx, slog.LevelInfo, "jetq: retrying a task now", slog.String("task_id", t.ID), slog.String("task", name),
		slog.String("queue", queue), slog.Uint64("seq", r.Seq), slog.Uint64("copy_seq", ack.Sequence), slog.Int("attempts", attempts))
	return nil
}

// attemptsOf is how many attempts of the stored task t are spent: as the
// live worker that set its retry lists it, else as its status record says
// for a tracked type. A task a live worker holds is running again.
func (in *Inspector) attemptsOf(ctx context.Context, t TaskInfo) (int, error) {
	l, err := in.live(ctx, Query{Queue: t.Queue, Task: t.Task})
	if err != nil {
		return 0, err
	}
	if h, ok := l.held[t.Seq]; ok {
		return 0, fmt.Errorf("inspect: task %q is running again, on worker %s: %w", t.ID, h.worker, ErrMovedOn)
	}
	if rt, ok := l.retries[t.Seq]; ok {
		return rt.Attempt, nil
	}
	sts, err := in.statuses(ctx, []TaskInfo{t}, map[string]bool{typeKey(t.Queue, t.Task): true})
	if err != nil {
		return 0, err
	}
	if st, ok := sts[0]; ok && st.State == status.Retrying && st.Attempt > 0 {
		return st.Attempt, nil
	}
	return 0, fmt.Errorf("inspect: task %q: no live worker lists a retry of it still to come, and its type does not track its status: "+
		"its retry is due already, or the worker that held it is gone (it runs again after its ack wait), and its attempts are unknown: %w", t.ID, ErrNotFound)
}
