package consumer

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/settle"
	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// settle decides what the handler's result means and tells the server,
// unless the delivery was settled already. It runs on the delivery's runner.
func (w *Worker) settle(ctx context.Context, j *job, err error, timedOut bool) {
	if o := w.decide(j, err, timedOut); j.claim(o) {
		w.apply(ctx, j, o)
	}
}

// decide maps a handler result to a settlement. A failed attempt of a
// task cancelled while it ran is cancelled. A retry whose next attempt
// would come after the task's deadline is an expiry now: that attempt
// would not run.
func (w *Worker) decide(j *job, err error, timedOut bool) tasks.Outcome {
	if err != nil && j.state() == stateCancelling {
		return cancelledOutcome(err) // cancel.go
	}
	o := settle.Decide(err, j.env.Attempt, j.env.MaxAttempts, timedOut, w.baseCtx.Err() != nil, j.route.spec.Backoff)
	if (o.Action == tasks.ActionRetry || o.Action == tasks.ActionSnooze) && w.expired(j, o.Delay) {
		o = tasks.Outcome{Action: tasks.ActionExpire, Err: o.Err}
	}
	return o
}

// apply tells the server what o says, records the status of a tracked
// task and logs it, and then releases the delivery (applied), or hands it
// to a goroutine of its own that does. A settlement for good reaches the server only after
// the final record of a type that keeps its outcome (keepFinal) and the
// task's follow-ups (followed), so that a crash between them leaves it to
// be redone. A dead-letter record is published, and its
// acknowledgement awaited, before the Term that deletes the task. A record
// that cannot be filed at the first try is filed in the background: the
// slot is free for the next task while the delivery stays in the worker's
// hands, heartbeated, until its record is stored, so a failed filing never
// turns into another run of the task or another reason. The first try is
// heartbeated too, however long it takes.
func (w *Worker) apply(ctx context.Context, j *job, o tasks.Outcome) {
	if o.Action == tasks.ActionAck || o.Action == tasks.ActionExpire || o.Action == tasks.ActionCancel {
		// The final record (state.go), then callbacks and workflow
		// bookkeeping (follow.go); a dead letter's come once its record is
		// filed (finishDeadLetter).
		if j.route.spec.Retention > 0 && !w.keepFinal(ctx, j, o) {
			return
		}
		if flow.Has(j.env.Header) && !w.followed(ctx, j, o, func() { w.tell(ctx, j, o) }) {
			return
		}
	}
	w.tell(ctx, j, o)
}

// tell is apply once the follow-ups of a settlement for good have run.
func (w *Worker) tell(ctx context.Context, j *job, o tasks.Outcome) {
	msg := j.msg
	var err error
	switch o.Action {
	case tasks.ActionAck:
		w.firedDone(ctx, j) // fired.go: a delayed or periodic task's redelivery does not run again
		w.ack(ctx, j, o)
		return
	case tasks.ActionRetry:
		err = msg.NakWithDelay(o.Delay)
	case tasks.ActionRelease:
		err = msg.Nak()
	case tasks.ActionSnooze:
		w.snooze(ctx, j, o) // snooze.go
		return
	case tasks.ActionExpire:
		err = msg.Ack() // gone without a dead-letter record: expiry is not a failure
	case tasks.ActionCancel:
		err = msg.TermWithReason("cancelled") // no dead-letter record: not a failure
	case tasks.ActionDeadLetter:
		// Settled, the delivery is heartbeated only while it is filing:
		// a first try that outlasts the ack wait would let the server
		// redeliver the task before its record exists.
		j.step(stateFiling)
		file := w.recordFiler(ctx, j, o)
		if ferr := file(); ferr != nil {
			w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot file dead-letter record yet; trying again in the background",
				slog.String(keyReason, string(o.Reason)), slog.String(keyError, ferr.Error()))
			w.active.Add(1)
			go w.fileLater(ctx, j, o, file, ferr)
			return
		}
		w.finishDeadLetter(ctx, j, o)
		return
	}
	w.applied(ctx, j, o, err)
}

// finishDeadLetter runs the follow-ups of o, the dead letter of j's task
// whose record is filed (j is filing), if the task has any (follow.go:
// callbacks and workflow bookkeeping), and then terminates it.
func (w *Worker) finishDeadLetter(ctx context.Context, j *job, o tasks.Outcome) {
	if flow.Has(j.env.Header) && !w.followed(ctx, j, o, func() { w.terminate(ctx, j, o) }) {
		return
	}
	w.terminate(ctx, j, o)
}

// terminate deletes j's dead-lettered task, its record filed, once the
// final record of a task type that keeps its outcome is written (a result
// task's that cannot be is handed back instead, see keepFinal).
func (w *Worker) terminate(ctx context.Context, j *job, o tasks.Outcome) {
	if !w.keepFinal(ctx, j, o) {
		return
	}
	j.step(stateSettling)
	w.applied(ctx, j, o, j.msg.TermWithReason(string(o.Reason)))
}

// applied records and logs the outcome o of j, whose settlement with the
// server returned err, and releases the delivery: every settlement ends
// here, once, from settling.
func (w *Worker) applied(ctx context.Context, j *job, o tasks.Outcome, err error) {
	if err != nil {
		w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot settle task; the server will redeliver it",
			slog.String("action", o.Action.String()), slog.String(keyError, err.Error()))
	}
	j.route.done.count(o, err)
	if o.Action == tasks.ActionRetry {
		w.presence.noteRetry(j, o)
	}
	w.recordOutcome(ctx, j, o)
	w.logOutcome(ctx, j, o)
	if err == nil && o.Action != tasks.ActionRetry && o.Action != tasks.ActionRelease && o.Action != tasks.ActionSnooze {
		w.releaseUnique(ctx, j)
	}
	w.release(j)
}

// releaseUnique gives back the unique key of j's task, now settled for good.
// A failure is logged: the key's TTL releases it then.
func (w *Worker) releaseUnique(ctx context.Context, j *job) {
	key := j.env.Header.Get(wire.HeaderUnique)
	if key == "" {
		return
	}
	if err := w.unique.Release(context.WithoutCancel(ctx), j.route.spec, key, j.env.ID); err != nil {
		w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot release unique key; its TTL will",
			slog.String("unique_key", key), slog.String(keyError, err.Error()))
	}
}

// expired reports whether j's task is past its deadline after wait from
// now: the deadline it carries, or for tasks without one (periodic
// firings, other publishers) its definition's expiry after it was stored.
// The clock is read only for a task that has a deadline.
func (w *Worker) expired(j *job, wait time.Duration) bool {
	dl := j.env.Deadline
	if dl.IsZero() && j.route.spec.Expiry > 0 {
		dl = j.env.EnqueuedAt.Add(j.route.spec.Expiry)
	}
	return !dl.IsZero() && time.Now().Add(wait).After(dl)
}

// expire settles j's task, picked up after its deadline, without running it.
func (w *Worker) expire(ctx context.Context, j *job) {
	o := tasks.Outcome{Action: tasks.ActionExpire}
	if !j.claim(o) {
		return
	}
	if j.route.spec.TrackState {
		j.progress.Store(&progress{w: w, st: statusstore.Of(j.env)}) // so that the outcome is recorded
	}
	w.apply(ctx, j, o)
}

// filedAlready terminates a redelivered task whose dead-letter record is
// filed already, instead of running it again: a worker filed the record and
// stopped before its Term reached the server. It reports whether it settled
// j. Only redeliveries pay the look-up: one request while the task type
// filed no record since the task was stored (see deadletter.Filer.Filed).
// A look-up that fails lets the task run, as it did before the check.
func (w *Worker) filedAlready(ctx context.Context, j *job) bool {
	spec := j.route.spec
	id := wire.RecordID(j.env.Stream, j.env.Sequence, j.stored)
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fileTimeout)
	rec, err := w.filer.Filed(lctx, w.cfg.names.DLQSubject(spec.Queue, spec.Name), id, j.stored)
	cancel()
	if err != nil {
		w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot tell whether the redelivered task was dead-lettered already; running it",
			slog.String(keyError, err.Error()))
		return false
	}
	if rec == nil {
		return false
	}
	o := tasks.Outcome{Action: tasks.ActionDeadLetter, Reason: tasks.Reason(rec.Header.Get(wire.HeaderDLQReason)),
		Err: errors.New(rec.Header.Get(wire.HeaderDLQError))}
	if !j.claim(o) {
		return true // settled meanwhile: a forced stop handed it back
	}
	if spec.TrackState {
		j.progress.Store(&progress{w: w, st: statusstore.Of(j.env)}) // so that the outcome is recorded
	}
	j.ran, _ = strconv.Atoi(rec.Header.Get(wire.HeaderDLQDeliveries))
	w.logTask(ctx, j, slog.LevelInfo, "jetq: redelivered task was dead-lettered already; terminating it",
		slog.Uint64(keyRecord, rec.Seq))
	// The worker that filed the record may have stopped before the
	// follow-ups ran.
	j.step(stateFiling)
	w.finishDeadLetter(ctx, j, o)
	return true
}

// ack acknowledges j's task, settled as o, through confirmAck when its
// consumer is replicated.
func (w *Worker) ack(ctx context.Context, j *job, o tasks.Outcome) {
	if j.route.replicated.Load() {
		j.step(stateConfirming)
		w.active.Add(1)
		go w.confirmAck(ctx, j, o)
		return
	}
	w.applied(ctx, j, o, j.msg.Ack())
}

// confirmAck acknowledges j's task and waits for the server to confirm it,
// trying again while the consumer elects a new leader: a replicated
// consumer whose leader goes down forgets the acknowledgements it had not
// yet agreed with its followers, and would run those tasks again. Until the
// confirmation the delivery stays in the worker's hands and heartbeated, so
// the new leader does not redeliver it meanwhile; the slot is free already.
// It gives up after the ack wait, or at a forced stop.
func (w *Worker) confirmAck(ctx context.Context, j *job, o tasks.Outcome) {
	defer w.active.Done()
	// Within the ack wait: past it the server redelivers the task anyway.
	bo := retry.New(100*time.Millisecond, 2*time.Second, j.route.consumer.AckWait)
	var err error
	for {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackConfirmTimeout)
		err = j.msg.DoubleAck(actx)
		cancel()
		if err == nil || !retry.Transient(err) || bo.Wait(w.baseCtx) != nil {
			break
		}
	}
	j.step(stateSettling)
	w.applied(ctx, j, o, err)
}

// ackConfirmTimeout bounds each wait for an acknowledgement's confirmation.
const ackConfirmTimeout = 2 * time.Second

// fileTimeout bounds each try at filing a dead-letter record, so a frozen
// dead-letter stream holds a slot for that long at most.
const fileTimeout = 2 * time.Second

// fileLater keeps trying to file j's record, with a backoff, and then
// terminates the task; the heartbeat keeps the delivery alive meanwhile.
// err is why the first try failed. Only a forced stop ends it first: the
// task is then handed back.
func (w *Worker) fileLater(ctx context.Context, j *job, o tasks.Outcome, file func() error, err error) {
	defer w.active.Done()
	bo := retry.New(200*time.Millisecond, 10*time.Second, 0)
	for {
		if bo.Wait(w.baseCtx) != nil {
			w.logTask(ctx, j, slog.LevelError, "jetq: worker stopped before the task's dead-letter record could be filed; handing the task back",
				slog.String(keyReason, string(o.Reason)), slog.String(keyError, err.Error()))
			j.step(stateSettling)
			o = tasks.Outcome{Action: tasks.ActionRelease, Err: o.Err}
			w.applied(ctx, j, o, j.msg.Nak())
			return
		}
		if err = file(); err == nil {
			break
		}
		w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot file dead-letter record yet; trying again",
			slog.String(keyReason, string(o.Reason)), slog.String(keyError, err.Error()))
	}
	if flow.Has(j.env.Header) && !w.followRetry(ctx, j, o, w.follow(ctx, j, o)) {
		return // handed back
	}
	w.terminate(ctx, j, o)
}

// recordFiler builds j's dead-letter record and returns a func that makes
// one try at filing it, within fileTimeout.
func (w *Worker) recordFiler(ctx context.Context, j *job, o tasks.Outcome) func() error {
	env, spec := j.env, j.route.spec
	f := wire.Failure{
		Reason:     o.Reason,
		Error:      errorText(o.Err),
		Stream:     env.Stream,
		Seq:        env.Sequence,
		Subject:    env.Subject,
		StoredAt:   j.stored,
		Deliveries: env.Attempt,
		At:         time.Now(),
	}
	// The record must be filed even when the worker is being stopped, and
	// inside the trace of ctx.
	base := context.WithoutCancel(ctx)
	h, data := j.msg.Headers(), j.msg.Data()
	lctx, cancel := context.WithTimeout(base, fileTimeout)
	rec := w.filer.Record(lctx, spec.Queue, spec.Name, h, data, f)
	cancel()
	renv := &tasks.Envelope{
		ID: rec.Header.Get(wire.HeaderMsgID), Name: spec.Name, Queue: spec.Queue, Subject: rec.Subject,
		EnqueuedAt: f.At, Header: tasks.Header(rec.Header), Body: rec.Data, Server: env.Server,
		Attempt: env.Attempt, MaxAttempts: env.MaxAttempts, Outcome: o,
	}
	publish := func(ctx context.Context, batch []*tasks.Envelope) []error {
		ack, err := w.filer.File(ctx, rec, h, data)
		if err != nil {
			return []error{err}
		}
		batch[0].Stream, batch[0].Sequence, batch[0].Duplicate = ack.Stream, ack.Sequence, ack.Duplicate
		return []error{nil}
	}
	publish = tasks.ChainEnqueue(publish, w.cfg.deadLetter...)
	return func() error {
		pctx, cancel := context.WithTimeout(base, fileTimeout)
		defer cancel()
		return settle.CallEnqueue(pctx, publish, []*tasks.Envelope{renv})[0]
	}
}

// errorText is what a dead-letter record says about err; a panic brings its stack.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	var p *tasks.PanicError
	if errors.As(err, &p) {
		return err.Error() + "\n" + string(p.Stack)
	}
	return err.Error()
}

func (w *Worker) logOutcome(ctx context.Context, j *job, o tasks.Outcome) {
	switch o.Action {
	case tasks.ActionAck:
		w.logTask(ctx, j, slog.LevelDebug, "jetq: task done")
	case tasks.ActionRetry:
		w.logTask(ctx, j, slog.LevelWarn, "jetq: task failed; retrying",
			slog.Duration(keyDelay, o.Delay), errAttr(o.Err))
	case tasks.ActionDeadLetter:
		w.logTask(ctx, j, slog.LevelWarn, "jetq: task dead-lettered",
			slog.String(keyReason, string(o.Reason)), errAttr(o.Err))
	case tasks.ActionRelease:
		w.logTask(ctx, j, slog.LevelInfo, "jetq: task handed back for redelivery")
	case tasks.ActionCancel:
		w.logTask(ctx, j, slog.LevelInfo, "jetq: task cancelled", errAttr(o.Err))
	}
}

func errAttr(err error) slog.Attr {
	if err == nil {
		return slog.String(keyError, "")
	}
	var p *tasks.PanicError
	if errors.As(err, &p) {
		return slog.Group(keyError, slog.String("message", err.Error()), slog.String(keyStack, string(p.Stack)))
	}
	return slog.String(keyError, err.Error())
}

func (w *Worker) logTask(ctx context.Context, j *job, level slog.Level, msg string, attrs ...slog.Attr) {
	if !w.log.Enabled(ctx, level) {
		return
	}
	env := j.env
	all := make([]slog.Attr, 0, 6+len(attrs))
	all = append(all,
		slog.String(keyTask, j.route.spec.Name),
		slog.String(keyQueue, j.route.spec.Queue),
		slog.String(keyID, env.ID),
		slog.Int(keyAttempt, env.Attempt),
		slog.Int(keyMax, env.MaxAttempts),
		slog.Uint64(keySeq, env.Sequence),
	)
	all = append(all, attrs...)
	w.log.LogAttrs(ctx, level, msg, all...)
}
