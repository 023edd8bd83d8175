package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/settle"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// snoozeTimeout bounds each try at publishing a snoozed task's copy.
const snoozeTimeout = 2 * time.Second

// errNoSchedules is why a snooze falls back to a retry on a server without
// schedules.
var errNoSchedules = errors.New("the server runs no schedules (it needs " + provision.MinSchedulingServer + ")")

// afterSnooze, when set, runs between the store of a snoozed task's copy
// and the acknowledgement of its original, with the task's ID: tests stop
// a worker there.
var afterSnooze atomic.Pointer[func(id string)]

// snooze sets j's task aside for o.Delay without spending an attempt
// (tasks.Snooze). The server counts a message's deliveries and stops at
// MaxDeliver, and a delivery's attempt comes from that count, so a snooze
// cannot be a NakWithDelay: the task becomes a copy instead, a delayed task
// on its own schedule subject (wire.SnoozeCopy) that carries the attempts
// spent before this one and repeats this one when it fires, as a new
// message whose deliveries the server counts from zero. The copy is stored
// before the original is acknowledged, so the task is never lost; a worker
// that dies between the two leaves the original to be delivered again, and
// that redelivery and the copy claim the same run (wire.RetryFiringsOf,
// fired.go): whichever is delivered first runs, the other is dropped unrun.
// A copy that cannot be stored (a server without schedules, or one that
// does not answer in time) makes the snooze a retry after o.Delay, which
// spends an attempt: dead-lettered on the last, as any retry. Either way
// the settlement ends as any other's (applied).
func (w *Worker) snooze(ctx context.Context, j *job, o tasks.Outcome) {
	err := errNoSchedules
	if w.schedules.Load() {
		now := time.Now()
		err = w.publishSnooze(ctx, j, wire.SnoozeCopy(w.cfg.names, j.env, j.msg.Headers(), j.msg.Data(), now.Add(o.Delay), now))
	}
	if err != nil {
		// Logged as the retry it becomes (logOutcome).
		err = fmt.Errorf("snooze: cannot set the task aside, so it is retried instead, spending an attempt: %w", err)
		fo := settle.Decide(tasks.RetryAfter(o.Delay, err), j.env.Attempt, j.env.MaxAttempts, false, false, j.route.spec.Backoff)
		j.env.Outcome = fo // on the runner, the envelope's only writer
		w.tell(ctx, j, fo)
		return
	}
	w.logTask(ctx, j, slog.LevelDebug, "jetq: task snoozed", slog.Duration(keyDelay, o.Delay))
	if f := afterSnooze.Load(); f != nil {
		(*f)(j.env.ID)
	}
	// Confirmed as a success's acknowledgement: one that a new consumer
	// leader forgot would deliver the original again.
	w.ack(ctx, j, o)
}

// publishSnooze publishes m, the snoozed task's copy, trying again while the
// schedule stream does not answer, for at most a third of the task's ack
// wait: the delivery is not heartbeated meanwhile. Every try has the same
// Nats-Msg-Id, so the copy is stored once.
func (w *Worker) publishSnooze(ctx context.Context, j *job, m *nats.Msg) error {
	base := context.WithoutCancel(ctx) // a stopping worker still sets the task aside
	bo := retry.New(100*time.Millisecond, time.Second, j.route.consumer.AckWait/3)
	for {
		pctx, cancel := context.WithTimeout(base, snoozeTimeout)
		ack, err := w.js.PublishMsg(pctx, m)
		cancel()
		switch {
		case err == nil && ack.Stream != w.cfg.names.ScheduleStream():
			return fmt.Errorf("the copy was stored by stream %s, not %s: another stream claims subject %s",
				ack.Stream, w.cfg.names.ScheduleStream(), m.Subject)
		case err == nil:
			return nil
		case !retry.Transient(err) || bo.Wait(base) != nil:
			return err
		}
	}
}
