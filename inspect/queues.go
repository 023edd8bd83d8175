package inspect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/directget"
	"github.com/jetq/jetq/internal/pausing"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// QueueStats is what the queue of one task type holds, as
// [Inspector.Queues] reads it (its documentation says where each number
// comes from). The JSON field names are snake_case; durations are in
// nanoseconds.
type QueueStats struct {
	Queue string `json:"queue"`
	Task  string `json:"task"`
	// Pending counts the tasks stored and not yet delivered to a worker
	// (the consumer's NumPending).
	Pending uint64 `json:"pending"`
	// Running counts the tasks a handler of a live worker runs now.
	Running int `json:"running"`
	// Held counts the other deliveries live workers hold and have not
	// settled: waiting in a worker's prefetch for a free handler, or being
	// settled (a dead-letter record filed, an acknowledgement confirmed).
	Held int `json:"held"`
	// WaitingToRetry counts the deliveries not settled that no live worker
	// holds: tasks waiting out a retry backoff, and deliveries of workers
	// that are gone, due again once their ack wait expires.
	WaitingToRetry int `json:"waiting_to_retry"`
	// NextAttemptAt is the earliest retry a live worker set; zero when
	// none is known.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	// InFlight is Running plus Held plus WaitingToRetry: the deliveries
	// not settled (the consumer's NumAckPending).
	InFlight int `json:"in_flight"`
	// Redelivered counts the deliveries not settled that were delivered
	// more than once (the consumer's NumRedelivered).
	Redelivered int `json:"redelivered"`
	// DeadLettered counts the task type's records in the dead-letter stream.
	DeadLettered uint64 `json:"dead_lettered"`
	// Cancelled counts the task type's tasks cancelled ([Inspector.Cancel])
	// within the last seven days: their cancel records in JETQ_CANCELS.
	Cancelled int `json:"cancelled"`
	// Scheduled counts the delayed tasks of this type that have not fired.
	Scheduled int `json:"scheduled"`
	// OldestPendingAge is how long the oldest pending task has been stored;
	// 0 when none is pending.
	OldestPendingAge time.Duration `json:"oldest_pending_age"`
	// Paused reports the task type paused ([Inspector.Pause]): its durable
	// consumer paused, or, for a type no worker has served yet, a pause of
	// its queue or of every queue.
	Paused bool `json:"paused"`
	// PausedUntil is when the pause ends; zero while Paused when it lasts
	// until resumed.
	PausedUntil time.Time `json:"paused_until,omitzero"`
	// Workers counts the live worker processes serving the task type, from
	// their presence entries.
	Workers int `json:"workers"`
	// Consumers is 1 when the task type has its durable consumer, 0 while
	// no worker has ever served it.
	Consumers int `json:"consumers"`
}

// Queues returns the statistics of every task type found on the work
// stream (queued tasks or a consumer), the dead-letter stream or the
// schedule stream, sorted by queue then task. With no work stream it
// returns none. It creates nothing: a server where nothing was enqueued
// yet has no task types. `jetq queues` prints it.
//
// # Where the numbers come from
//
// Each task type has one durable consumer on the work stream JETQ_TASKS,
// named "<queue>:<task with ':' for '.'>". Its info gives Pending (tasks
// stored and not yet delivered), the deliveries not yet settled
// (NumAckPending, [QueueStats.InFlight]), Redelivered and whether it is paused.
// A task type no worker has served yet has no consumer: its Pending is the
// number of its tasks in the work stream. DeadLettered counts the records
// in JETQ_DLQ on jetq.dlq.<queue>.<task>; Scheduled the delayed tasks in
// JETQ_SCHEDULES (jetq.sched.at.*) whose Nats-Schedule-Target is
// jetq.fire.<queue>.<task>, read in batches of 256 a request.
//
// # Running, held and waiting to retry
//
// The server cannot tell them apart: a task that failed and waits out its
// backoff (NakWithDelay) stays in NumAckPending until it is due, as does
// the delivery of a worker that died, until its ack wait expires, and a
// delivery waiting in a worker's prefetch counts the same as one a handler
// runs; the server lists none of them. So every worker keeps a presence
// entry in the key-value bucket JETQ_WORKERS, one key per worker process,
// rewritten every presence interval (consumer.WithPresenceInterval,
// default 2 s) with a time to live of three intervals. Per task type it
// holds the deliveries in the worker's hands and not yet settled, how many
// of them a handler runs, and the retries the worker set that are still to
// come, with the earliest of them. The entry of a worker that is gone
// expires on the server; a worker that stops deletes it.
//
// Then, per task type, of NumAckPending ([QueueStats.InFlight]):
//
//   - Workers is the number of live presence entries serving it;
//   - WaitingToRetry is the retries the live workers set that are still to
//     come, or, when more, what the live workers do not hold: that adds
//     retries set by workers that are gone and the deliveries of a worker
//     that died, which the server delivers again once their ack wait
//     expires. With no live worker, everything ack-pending waits to retry;
//   - Running is the handlers the live workers run, of the rest;
//   - Held is the rest: deliveries a live worker holds with no handler
//     running them yet (its prefetch), or is settling;
//   - NextAttemptAt is the earliest retry a live worker set, zero when no
//     live worker knows one (the worker that set it is gone).
//
// Running, Held and WaitingToRetry add up to InFlight. A retry a live
// worker set counts as waiting whatever the worker held at its last write,
// so a task waiting out a backoff does not flicker into Running while the
// workers settle other tasks between two writes.
//
// The entries are up to one interval old, so a task that just started or
// finished may be counted on the other side for that long; a worker that
// died counts as running or held for at most three intervals. Presence needs
// nats-server 2.11 or newer (per-message TTLs); without it workers log a
// warning, Workers is 0 and every task in flight shows as waiting to retry.
func (in *Inspector) Queues(ctx context.Context) ([]QueueStats, error) {
	return in.collect(ctx, nil)
}

// Queue returns the statistics of one task type; a task type the server
// knows nothing of has zero counts. It returns an error wrapping
// [ErrInvalidQuery] for an invalid queue or task name.
func (in *Inspector) Queue(ctx context.Context, queue, task string) (QueueStats, error) {
	if err := validType(queue, task); err != nil {
		return QueueStats{}, err
	}
	rows, err := in.collect(ctx, &key{queue, task})
	if err != nil {
		return QueueStats{}, err
	}
	for _, r := range rows {
		if r.Queue == queue && r.Task == task {
			return r, nil
		}
	}
	return QueueStats{Queue: queue, Task: task}, nil
}

type key struct{ queue, task string }

// validType returns an error wrapping [ErrInvalidQuery] for an invalid
// queue or task name.
func validType(queue, task string) error {
	if err := tasks.ValidateQueue(queue); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
	}
	if err := tasks.ValidateName(task); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
	}
	return nil
}

// typeLive is what the live workers hold of one task type, as their presence
// entries last said.
type typeLive struct {
	workers int
	// held counts the deliveries they hold, running counts the handlers
	// they run, retrying the backoffs they set that are still to come.
	held, running, retrying int
	nextRetry               time.Time
}

// split divides the deliveries a consumer counts as not settled (acks, its
// NumAckPending) into running, held and waiting to retry, from what the
// live workers last said; the three add up to acks.
//
// The entries are up to one presence interval old while acks is current,
// and each side is taken from what is known of it, not as what the other
// leaves: the retries a live worker set are waiting (a count that moves
// only when a backoff ends) however much an older entry says the workers
// held, and what the live workers do not hold — retries set by a worker
// that is gone, deliveries of a dead worker — is waiting too. Running
// comes next, and held is the rest. Subtracting a stale held from a fresh
// acks alone turned a task waiting out a long backoff into a running one
// whenever the workers had settled other tasks since their last write.
func (lv typeLive) split(acks int) (running, held, waiting int) {
	waiting = min(max(lv.retrying, acks-lv.held), acks)
	running = min(lv.running, acks-waiting)
	return running, acks - waiting - running, waiting
}

// collection gathers the rows of Queues, or of Queue (only non-nil).
type collection struct {
	in   *Inspector
	only *key
	rows map[key]*QueueStats
	cons map[key]*jetstream.ConsumerInfo
}

func (c *collection) row(k key) *QueueStats {
	if c.rows[k] == nil {
		c.rows[k] = &QueueStats{Queue: k.queue, Task: k.task}
	}
	return c.rows[k]
}

// subjects is the filter for the subjects under base ("jetq.task.") that
// the collection wants.
func (c *collection) subjects(base string) string {
	if c.only != nil {
		return base + c.only.queue + "." + c.only.task
	}
	return base + ">"
}

// parse reads the queue and task of subject under base.
func (c *collection) parse(subject, base string) (key, bool) {
	rest, ok := strings.CutPrefix(subject, base)
	if !ok {
		return key{}, false
	}
	q, t, err := c.in.names.ParseTaskSubject(c.in.names.Prefix() + ".task." + rest)
	return key{q, t}, err == nil
}

func (in *Inspector) collect(ctx context.Context, only *key) ([]QueueStats, error) {
	c := &collection{in: in, only: only, rows: map[key]*QueueStats{}, cons: map[key]*jetstream.ConsumerInfo{}}
	work, err := in.js.Stream(ctx, in.names.WorkStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil // nothing was ever enqueued here (or the prefix is wrong)
	}
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	queued, err := c.work(ctx, work)
	if err != nil {
		return nil, err
	}
	workers, err := in.liveWorkers(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.deadLettered(ctx); err != nil {
		return nil, err
	}
	if err := c.scheduled(ctx); err != nil {
		return nil, err
	}
	if err := c.cancelled(ctx); err != nil {
		return nil, err
	}
	pauses, err := in.pauses.Records(ctx)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	now := time.Now()
	for k, r := range c.rows {
		lv := workers[k]
		r.Workers = lv.workers
		from := uint64(1)
		if ci := c.cons[k]; ci != nil {
			r.Consumers = 1
			r.Pending = ci.NumPending
			r.InFlight = ci.NumAckPending
			r.Redelivered = ci.NumRedelivered
			r.Running, r.Held, r.WaitingToRetry = lv.split(ci.NumAckPending)
			if r.WaitingToRetry > 0 {
				r.NextAttemptAt = lv.nextRetry
			}
			if ci.Paused {
				r.Paused = true
				r.PausedUntil = now.Add(ci.PauseRemaining).UTC()
				if ci.Config.PauseUntil != nil {
					r.PausedUntil = ci.Config.PauseUntil.UTC()
				}
				if !r.PausedUntil.Before(pausing.Forever) {
					r.PausedUntil = time.Time{} // until resumed
				}
			}
			from = ci.Delivered.Stream + 1
		} else {
			r.Pending = queued[k]
			if until := pauses.Until(k.queue, k.task, now); !until.IsZero() {
				// No consumer to pause yet: the one a worker creates will be.
				r.Paused = true
				if until.Before(pausing.Forever) {
					r.PausedUntil = until
				}
			}
		}
		if r.Pending > 0 {
			m, err := work.GetMsg(ctx, from, jetstream.WithGetMsgSubject(in.names.TaskSubject(k.queue, k.task)))
			switch {
			case err == nil:
				r.OldestPendingAge = max(now.Sub(m.Time), 0)
			case !errors.Is(err, jetstream.ErrMsgNotFound):
				return nil, fmt.Errorf("inspect: oldest pending task of %s: %w", k.task, err)
			}
		}
	}
	out := make([]QueueStats, 0, len(c.rows))
	for _, r := range c.rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b QueueStats) int {
		return cmp.Or(cmp.Compare(a.Queue, b.Queue), cmp.Compare(a.Task, b.Task))
	})
	return out, nil
}

// work reads the work stream's subjects and consumers. It returns the
// tasks stored per task type.
func (c *collection) work(ctx context.Context, work jetstream.Stream) (map[key]uint64, error) {
	n := c.in.names
	base := n.Prefix() + ".task."
	info, err := work.Info(ctx, jetstream.WithSubjectFilter(c.subjects(base)))
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	queued := map[key]uint64{}
	for subj, count := range info.State.Subjects {
		if k, ok := c.parse(subj, base); ok {
			queued[k] = count
			c.row(k)
		}
	}
	take := func(ci *jetstream.ConsumerInfo) {
		if ci.Config.Durable == "" {
			return
		}
		k, ok := c.parse(ci.Config.FilterSubject, base)
		if ok && ci.Config.Durable == n.Durable(k.queue, k.task) {
			c.cons[k] = ci
			c.row(k)
		}
	}
	if c.only != nil {
		cons, err := work.Consumer(ctx, n.Durable(c.only.queue, c.only.task))
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return queued, nil
		}
		if err != nil {
			return nil, fmt.Errorf("inspect: %w", err)
		}
		take(cons.CachedInfo())
		return queued, nil
	}
	list := work.ListConsumers(ctx)
	for ci := range list.Info() {
		take(ci)
	}
	if err := list.Err(); err != nil {
		return nil, fmt.Errorf("inspect: list consumers: %w", err)
	}
	return queued, nil
}

// deadLettered counts the dead-letter records per task type.
func (c *collection) deadLettered(ctx context.Context) error {
	n := c.in.names
	dlq, err := c.in.js.Stream(ctx, n.DLQStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	base := n.Prefix() + ".dlq."
	info, err := dlq.Info(ctx, jetstream.WithSubjectFilter(c.subjects(base)))
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	for subj, count := range info.State.Subjects {
		if k, ok := c.parse(subj, base); ok {
			c.row(k).DeadLettered = count
		}
	}
	return nil
}

// scheduled counts the delayed tasks per task type, reading each
// schedule's target: in batches of direct gets, 256 a request, where the
// schedule stream allows them (jetq's does), else one get a delayed task.
func (c *collection) scheduled(ctx context.Context) error {
	n := c.in.names
	st, err := c.in.js.Stream(ctx, n.ScheduleStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	base := n.Prefix() + ".fire."
	filter := n.DelayedSubjects() + "*"
	count := func(h nats.Header) {
		k, ok := c.parse(h.Get(wire.HeaderScheduleTarget), base)
		if ok && (c.only == nil || *c.only == k) {
			c.row(k).Scheduled++
		}
	}
	direct := st.CachedInfo().Config.AllowDirect
	for seq := uint64(1); ; {
		if direct {
			msgs, more, err := directget.Batch(ctx, c.in.js, n.ScheduleStream(),
				directget.Request{Seq: seq, NextFor: filter, Batch: scheduledBatch, MaxBytes: scheduledBatchBytes})
			if err != nil {
				return fmt.Errorf("inspect: read delayed tasks: %w", err)
			}
			for _, m := range msgs {
				count(m.Header)
				seq = m.Seq + 1
			}
			if !more || len(msgs) == 0 {
				return nil
			}
			continue
		}
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("inspect: read delayed tasks: %w", err)
		}
		seq = m.Sequence + 1
		count(m.Header)
	}
}

// scheduledBatch and scheduledBatchBytes bound one read of delayed tasks.
const (
	scheduledBatch      = 256
	scheduledBatchBytes = 4 << 20
)

// workers sums the live workers' presence entries per task type.
func (in *Inspector) liveWorkers(ctx context.Context) (map[key]typeLive, error) {
	ps, err := in.presences(ctx)
	if err != nil {
		return nil, err
	}
	out := map[key]typeLive{}
	for _, p := range ps {
		for _, t := range p.Tasks {
			k := key{t.Queue, t.Task}
			lv := out[k]
			lv.workers++
			lv.held += t.Held
			lv.running += t.Running
			lv.retrying += t.Retrying
			if !t.NextRetryAt.IsZero() && (lv.nextRetry.IsZero() || t.NextRetryAt.Before(lv.nextRetry)) {
				lv.nextRetry = t.NextRetryAt
			}
			out[k] = lv
		}
	}
	return out, nil
}
