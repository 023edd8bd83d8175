package consumer

// History: what the workers did, kept for an hour (internal/wire/history.go).
//
// Once a step, at the step's end plus an offset of the worker's own (up to
// a tenth of the step, at most 5 s, so the workers of a deployment do not
// all ask at once), each worker writes what it did since its last write,
// if anything, to its own subject: one message a step, none when idle,
// nothing per task. Then, unless another worker already did, it reads the
// deployment's state and writes it with the step's Nats-Msg-Id, so the
// server keeps one copy a step however many workers race. A worker that
// stops writes what it did since its last write as it goes, labelled with
// the step under way.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
)

// DefaultHistoryInterval is the step of the history a worker writes by
// default.
const DefaultHistoryInterval = time.Minute

// WithHistoryInterval sets the step of the history the worker writes to
// the JETQ_HISTORY stream, which the inspect package and the dashboard
// read: one message a step with what the worker did in it (none when it
// did nothing), and the deployment's state once a step for all workers.
// Steps end on multiples of d since the zero time, so the workers of a
// deployment share them. Default [DefaultHistoryInterval]; it must be
// between a second and a minute.
func WithHistoryInterval(d time.Duration) Option {
	return func(c *config) { c.historyEvery = d }
}

// waits counts the first deliveries of a route the worker began to run,
// by how long they had waited in the work stream (see [wire.WaitBucket]).
type waits [wire.WaitBuckets]atomic.Uint64

// note counts a delivery begun at start, if it is a task's first.
func (ws *waits) note(md *jetstream.MsgMetadata, start time.Time) {
	if md.NumDelivered == 1 {
		ws[wire.WaitBucket(start.Sub(md.Timestamp))].Add(1)
	}
}

// written is what a route's last history sample counted up to.
type written struct {
	succeeded, failed, deadLettered, expired uint64
	waits                                    [wire.WaitBuckets]uint64
}

// recordHistory writes the worker's history each step until the worker has
// drained, then once more, and closes historyEnd: Run returns after that
// last write (5 s at most), so a process that exits when Run returns loses
// no count.
func (w *Worker) recordHistory(stream jetstream.Stream, err error) {
	defer close(w.historyEnd)
	step := w.cfg.historyEvery
	offset := rand.N(min(step/10, 5*time.Second) + 1)
	last := make([]written, len(w.routes))
	warned := false
	for first := true; ; first = false {
		// Made by Run and tried again each step, never at the stop, when
		// the server may be going away too.
		if stream == nil && !w.drainedYet() {
			if !first {
				stream, err = w.historyStream()
			}
			if err != nil && !warned {
				warned = true
				w.log.LogAttrs(w.stopCtx, slog.LevelWarn, "jetq: cannot keep history; the dashboard's chart will miss this worker",
					slog.String(keyError, err.Error()))
			}
		}
		end := time.Now().Truncate(step).Add(step)
		timer := time.NewTimer(time.Until(end.Add(offset)))
		select {
		case <-w.drained:
			timer.Stop()
		case <-timer.C:
		}
		stopping := w.drainedYet()
		if stream != nil && !w.js.Conn().IsClosed() {
			// Run waits for the last write: a short bound.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			w.writeSample(ctx, end, step, last)
			if !stopping { // the state at the step's end is for the workers then
				w.writeState(ctx, stream, end, step)
			}
			cancel()
		}
		if stopping {
			return
		}
	}
}

// historyWritten waits for the last history sample of a worker that has
// drained; one that has not (a consumer that did not close) writes none.
func (w *Worker) historyWritten() {
	if w.drainedYet() {
		<-w.historyEnd
	}
}

func (w *Worker) drainedYet() bool {
	select {
	case <-w.drained:
		return true
	default:
		return false
	}
}

func (w *Worker) historyStream() (jetstream.Stream, error) {
	ctx, cancel := context.WithTimeout(w.baseCtx, 5*time.Second)
	defer cancel()
	n := w.cfg.names
	work, err := w.js.Stream(ctx, n.WorkStream())
	if err != nil {
		return nil, fmt.Errorf("work stream %s: %w", n.WorkStream(), err)
	}
	if _, err := provision.History(ctx, w.js, w.cfg.topo, work.CachedInfo().Config, w.log); err != nil {
		return nil, err
	}
	s, err := w.js.Stream(ctx, n.HistoryStream())
	if err != nil {
		return nil, fmt.Errorf("history stream %s: %w", n.HistoryStream(), err)
	}
	return s, nil
}

// writeSample writes what the worker did since the counts in last, and
// moves last on once the server has it.
func (w *Worker) writeSample(ctx context.Context, end time.Time, step time.Duration, last []written) {
	s := wire.HistorySample{Worker: w.presence.id, At: end.UTC(), Step: step}
	now := make([]written, len(w.routes))
	for i, r := range w.routes {
		c, was := &now[i], last[i]
		c.succeeded, c.failed = r.done.succeeded.Load(), r.done.failed.Load()
		c.deadLettered, c.expired = r.done.deadLettered.Load(), r.done.expired.Load()
		t := wire.HistoryTask{Queue: r.spec.Queue, Task: r.spec.Name,
			Succeeded: c.succeeded - was.succeeded, Failed: c.failed - was.failed,
			DeadLettered: c.deadLettered - was.deadLettered, Expired: c.expired - was.expired}
		for b := range c.waits {
			c.waits[b] = r.waits[b].Load()
			if n := c.waits[b] - was.waits[b]; n > 0 {
				if t.Wait == nil {
					t.Wait = map[int]uint64{}
				}
				t.Wait[b] = n
				t.Started += n
			}
		}
		if t.Started+t.Succeeded+t.Failed+t.Expired > 0 {
			s.Tasks = append(s.Tasks, t)
		}
	}
	if len(s.Tasks) == 0 {
		return // idle: nothing to say
	}
	if err := w.publishJSON(ctx, w.cfg.names.HistoryWorkerSubject(s.Worker), "", s); err != nil {
		w.log.LogAttrs(ctx, slog.LevelDebug, "jetq: cannot write history", slog.String(keyError, err.Error()))
		return // counted in the next sample
	}
	copy(last, now)
}

// writeState writes the deployment's state at the step's end, unless a
// worker did already.
func (w *Worker) writeState(ctx context.Context, stream jetstream.Stream, end time.Time, step time.Duration) {
	n := w.cfg.names
	m, err := stream.GetLastMsgForSubject(ctx, n.HistoryStateSubject())
	if err == nil {
		var prev struct{ At time.Time }
		if json.Unmarshal(m.Data, &prev) == nil && !prev.At.Before(end) {
			return
		}
	}
	st, err := w.readState(ctx)
	if err == nil {
		st.At, st.Step = end.UTC(), step
		err = w.publishJSON(ctx, n.HistoryStateSubject(), wire.HistoryStateID(end), st)
	}
	if err != nil {
		w.log.LogAttrs(ctx, slog.LevelDebug, "jetq: cannot write the deployment's history", slog.String(keyError, err.Error()))
	}
}

// readState reads the counts of the work and dead-letter streams: one
// stream info each, one listing of the consumers, and a direct get per
// task type with tasks pending.
func (w *Worker) readState(ctx context.Context) (wire.HistoryState, error) {
	n := w.cfg.names
	var st wire.HistoryState
	work, err := w.js.Stream(ctx, n.WorkStream())
	if err != nil {
		return st, err
	}
	info, err := work.Info(ctx, jetstream.WithSubjectFilter(n.WorkSubjects()))
	if err != nil {
		return st, err
	}
	st.Stored = info.State.LastSeq
	type key struct{ queue, task string }
	gauges := map[key]*wire.HistoryGauges{}
	gauge := func(queue, task string) *wire.HistoryGauges {
		k := key{queue, task}
		if gauges[k] == nil {
			gauges[k] = &wire.HistoryGauges{Queue: queue, Task: task}
		}
		return gauges[k]
	}
	from := map[key]uint64{}
	for subj, count := range info.State.Subjects {
		if q, t, err := n.ParseTaskSubject(subj); err == nil {
			gauge(q, t).Pending = count // stored; a consumer's own count replaces it
			from[key{q, t}] = 1
		}
	}
	list := work.ListConsumers(ctx)
	for ci := range list.Info() {
		q, t, err := n.ParseTaskSubject(ci.Config.FilterSubject)
		if err != nil || ci.Config.Durable != n.Durable(q, t) {
			continue
		}
		gauge(q, t).Pending = ci.NumPending
		from[key{q, t}] = ci.Delivered.Stream + 1
	}
	if err := list.Err(); err != nil {
		return st, err
	}
	for k, g := range gauges {
		if g.Pending == 0 {
			continue
		}
		m, err := work.GetMsg(ctx, from[k], jetstream.WithGetMsgSubject(n.TaskSubject(k.queue, k.task)))
		if err == nil {
			g.OldestPending = m.Time.UTC()
		}
	}
	if err := w.readFiled(ctx, &st, gauge); err != nil {
		return st, err
	}
	for _, g := range gauges {
		st.Tasks = append(st.Tasks, *g)
	}
	return st, nil
}

// readFiled reads the dead-letter stream's last sequence and per task type
// its records, if it exists.
func (w *Worker) readFiled(ctx context.Context, st *wire.HistoryState, gauge func(queue, task string) *wire.HistoryGauges) error {
	n := w.cfg.names
	dlq, err := w.js.Stream(ctx, n.DLQStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	info, err := dlq.Info(ctx, jetstream.WithSubjectFilter(n.DLQSubjects()))
	if err != nil {
		return err
	}
	st.Filed = info.State.LastSeq
	for subj, count := range info.State.Subjects {
		if q, t, err := n.ParseDLQSubject(subj); err == nil {
			gauge(q, t).DeadLettered = count
		}
	}
	return nil
}

func (w *Worker) publishJSON(ctx context.Context, subject, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: subject, Data: data}
	if id != "" {
		msg.Header = nats.Header{}
		msg.Header.Set(jetstream.MsgIDHeader, id)
	}
	_, err = w.js.PublishMsg(ctx, msg)
	return err
}
