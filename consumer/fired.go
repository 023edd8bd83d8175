package consumer

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jetq/jetq/internal/fired"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// claimTimeout bounds each try at claiming a fired task.
const claimTimeout = 2 * time.Second

// copyOfFired reports whether j is not to run because another delivery
// claimed its delayed task or periodic tick, and then lets j go. The
// server's scheduler fires a task without its Nats-Msg-Id, so the work
// stream cannot drop a copy that its sourcing stores twice after a leader
// change (issue 24); before running a delivery that carries Nats-Scheduler,
// the worker claims the task's ID (internal/fired). A redelivery, and a
// copy published to run a retrying task now, claim the run after the
// task's previous attempt the same way, and a callback its ID (claimsOf).
// First deliveries of other tasks pay nothing. A second copy is terminated
// unrun. A redelivery of the claimed message runs as usual; an earlier
// delivery of it that comes after the redelivery (held here through a
// failover that lost its heartbeats) is let go unrun and unsettled, since
// the message is the redelivery's to settle.
// While the claim cannot be made (the bucket's leader is being elected), it
// is tried again, with the delivery heartbeated in the worker's hands; a
// forced stop hands it back. A claim refused for good (no permission on
// the bucket) runs the task: at least once, as without the check.
func (w *Worker) copyOfFired(ctx context.Context, j *job) bool {
	for _, c := range claimsOf(j) {
		if w.claimRun(ctx, j, c) {
			return true
		}
	}
	return false
}

// claim is one claim a delivery makes before it runs.
type claim struct {
	fired.Delivery
	// copyReason is why a Copy is terminated unrun.
	copyReason string
}

// claimRun makes claim c for j and reports whether j is not to run; see
// copyOfFired.
func (w *Worker) claimRun(ctx context.Context, j *job, c claim) bool {
	d := c.Delivery
	d.Token = rand.Uint64()
	bo := retry.New(100*time.Millisecond, 2*time.Second, 0)
	for {
		cctx, cancel := context.WithTimeout(w.baseCtx, claimTimeout)
		v, err := w.fired.Claim(cctx, d)
		cancel()
		switch {
		case err == nil && v == fired.Run:
			return false
		case err == nil && v == fired.Copy:
			w.letFired(ctx, j, func() error {
				return j.msg.TermWithReason(c.copyReason)
			}, "jetq: dropped a second copy of a task unrun: "+c.copyReason)
			return true
		case err == nil && v == fired.Done:
			w.letFired(ctx, j, j.msg.Ack, "jetq: a fired task that ran already came again; acknowledged it again, unrun")
			return true
		case err == nil:
			// Stale: settling it would settle the later delivery's message.
			w.letFired(ctx, j, nil, "jetq: let go of a task unrun; the server delivered it again meanwhile")
			return true
		case w.baseCtx.Err() != nil:
			w.handBack(j) // forced stop
			return true
		case !retry.Transient(err):
			w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot claim a task's run; running it without the check for a second copy",
				slog.String(keyError, err.Error()))
			return false
		}
		w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot claim a task's run yet; trying again", slog.String(keyError, err.Error()))
		if bo.Wait(w.baseCtx) != nil {
			w.handBack(j)
			return true
		}
	}
}

// claimsOf are the claims j makes before it runs: a fired task's firing
// (see firedDelivery), a callback's run (follow.go), and the run after a
// previous attempt. A redelivery, and a copy that inspect's RetryNow
// published to run a retrying task now, claim that run: the copy's original, delivered again meanwhile, and the
// copy collapse into one run (the other is terminated unrun), and a copy
// whose original came again first is refused. Only callbacks,
// redeliveries and such copies pay: one key-value create each
// (wire.RetryFiringsOf).
func claimsOf(j *job) []claim {
	var cs []claim
	if d, ok := firedDelivery(j); ok {
		cs = append(cs, claim{d, "copy of a fired task that ran from another delivery"})
	}
	if j.malformed != nil {
		return cs
	}
	if j.env.Header.Get(wire.HeaderCallback) != "" && j.env.Header.Get(wire.HeaderReplayOf) == "" &&
		j.env.Header.Get(wire.HeaderRetryOf) == "" && j.env.Header.Get(wire.HeaderSnoozeOf) == "" {
		// follow.go: the work stream drops a callback enqueued twice only
		// within its deduplication window; this claim, for a day. A
		// replay from the dead-letter stream is meant to run again, and
		// the copy of a callback run now (Jetq-Retry-Of) or snoozed
		// (Jetq-Snooze-Of) continues the run that claimed it: its own
		// claim is the run after the attempts it carries, below.
		cs = append(cs, claim{fired.Delivery{ID: j.env.ID, Firing: wire.CallbackFiring, Seq: j.env.Sequence, Attempt: j.env.Attempt},
			"copy of a callback enqueued again after the deduplication window"})
	}
	md, err := j.msg.Metadata()
	if err != nil {
		return cs
	}
	of, again := wire.RetryFiringsOf(j.env.Header, j.env.Sequence, md.NumDelivered)
	for _, f := range [...]string{of, again} {
		if f != "" {
			cs = append(cs, claim{fired.Delivery{ID: j.env.ID, Firing: f, Seq: j.env.Sequence, Attempt: j.env.Attempt},
				"superseded: another message of the task runs this attempt (a retry run now, or a snooze's copy)"})
		}
	}
	return cs
}

// firedUnrun is the settlement of a fired delivery let go unrun: no
// handler ran, so there is no outcome to tell.
var firedUnrun = tasks.Outcome{Action: tasks.ActionNone}

// letFired lets j go unrun, settled by settle (nil: unsettled), and logs
// what happened with msg.
func (w *Worker) letFired(ctx context.Context, j *job, settle func() error, msg string) {
	if !j.claimWith(&firedUnrun) {
		return
	}
	if settle == nil {
		w.logTask(ctx, j, slog.LevelInfo, msg)
	} else if err := settle(); err != nil {
		w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot settle a fired task that is not to run; the server will deliver it again",
			slog.String(keyError, err.Error()))
	} else {
		w.logTask(ctx, j, slog.LevelInfo, msg)
	}
	w.release(j)
}

// firedDelivery is j as a delivery of a fired task; ok is false for a task
// the scheduler did not fire, and for one that cannot be read.
func firedDelivery(j *job) (d fired.Delivery, ok bool) {
	if j.malformed != nil || j.env.Header.Get(wire.HeaderScheduler) == "" {
		return d, false
	}
	return fired.Delivery{ID: j.env.ID, Firing: wire.Firing(j.env.Header), Seq: j.env.Sequence, Attempt: j.env.Attempt}, true
}

// firedDone records that j, a fired task, succeeded, before its
// acknowledgement: if a consumer leader loses the acknowledgement, the
// redelivery is acknowledged again instead of run. A failure is logged;
// the redelivery then runs, as any task's does.
func (w *Worker) firedDone(ctx context.Context, j *job) {
	d, ok := firedDelivery(j)
	if !ok {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
	defer cancel()
	if err := w.fired.Done(dctx, d); err != nil {
		w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot record a fired task as done; it runs again if its acknowledgement is lost",
			slog.String(keyError, err.Error()))
	}
}
