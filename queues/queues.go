package queues

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
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// ErrInvalidOption is wrapped by the errors of [New] about options and of
// [Inspector.Get] about a queue or task name.
var ErrInvalidOption = errors.New("queues: invalid option")

// Stats is what the queue of one task type holds. The JSON field names are
// snake_case; durations are in nanoseconds.
type Stats struct {
	Queue string `json:"queue"`
	Task  string `json:"task"`
	// Pending counts the tasks stored and not yet delivered to a worker
	// (the consumer's NumPending).
	Pending uint64 `json:"pending"`
	// Running counts the tasks a handler of a live worker runs now (see
	// the package documentation).
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
	// Scheduled counts the delayed tasks of this type that have not fired.
	Scheduled int `json:"scheduled"`
	// OldestPendingAge is how long the oldest pending task has been stored;
	// 0 when none is pending.
	OldestPendingAge time.Duration `json:"oldest_pending_age"`
	// Paused reports a consumer paused until PausedUntil.
	Paused      bool      `json:"paused"`
	PausedUntil time.Time `json:"paused_until,omitzero"`
	// Workers counts the live worker processes serving the task type, from
	// their presence entries.
	Workers int `json:"workers"`
	// Consumers is 1 when the task type has its durable consumer, 0 while
	// no worker has ever served it.
	Consumers int `json:"consumers"`
}

// Option configures an [Inspector]; pass options to [New].
type Option func(*config)

type config struct {
	pub topology.Topology
}

// WithTopology sets the prefix the streams' names derive from, from the
// [topology.Topology] given to every producer and worker of the deployment.
// Only its Prefix matters: an Inspector creates nothing. Default: the zero
// Topology.
func WithTopology(t topology.Topology) Option {
	return func(c *config) { c.pub = t }
}

// WithPrefix sets the prefix every stream and subject name derives from. It
// must match the producers' and workers' prefix. Default "jetq".
func WithPrefix(prefix string) Option {
	return func(c *config) { c.pub.Prefix = prefix }
}

// Inspector reads queue statistics. It is safe for concurrent use.
type Inspector struct {
	js    jetstream.JetStream
	names wire.Names
}

// New returns an Inspector reading through js. It does no I/O. It returns
// an error wrapping [ErrInvalidOption] for a nil js or a bad prefix.
func New(js jetstream.JetStream, opts ...Option) (*Inspector, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
	}
	var cfg config
	for _, opt := range opts {
		opt(&cfg)
	}
	if err := cfg.pub.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return &Inspector{js: js, names: wire.NamesOf(cfg.pub)}, nil
}

// List returns the statistics of every task type found on the work
// stream (queued tasks or a consumer), the dead-letter stream or the
// schedule stream, sorted by queue then task. With no work stream it
// returns none.
func (in *Inspector) List(ctx context.Context) ([]Stats, error) {
	return in.collect(ctx, nil)
}

// Get returns the statistics of one task type; a task type the server
// knows nothing of has zero counts. It returns an error wrapping
// [ErrInvalidOption] for an invalid queue or task name.
func (in *Inspector) Get(ctx context.Context, queue, task string) (Stats, error) {
	if err := tasks.ValidateQueue(queue); err != nil {
		return Stats{}, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if err := tasks.ValidateName(task); err != nil {
		return Stats{}, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	rows, err := in.collect(ctx, &key{queue, task})
	if err != nil {
		return Stats{}, err
	}
	for _, r := range rows {
		if r.Queue == queue && r.Task == task {
			return r, nil
		}
	}
	return Stats{Queue: queue, Task: task}, nil
}

type key struct{ queue, task string }

// live is what the live workers hold of one task type, as their presence
// entries last said.
type live struct {
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
func (lv live) split(acks int) (running, held, waiting int) {
	waiting = min(max(lv.retrying, acks-lv.held), acks)
	running = min(lv.running, acks-waiting)
	return running, acks - waiting - running, waiting
}

// collection gathers the rows of a List or a Get (only non-nil).
type collection struct {
	in   *Inspector
	only *key
	rows map[key]*Stats
	cons map[key]*jetstream.ConsumerInfo
}

func (c *collection) row(k key) *Stats {
	if c.rows[k] == nil {
		c.rows[k] = &Stats{Queue: k.queue, Task: k.task}
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

func (in *Inspector) collect(ctx context.Context, only *key) ([]Stats, error) {
	c := &collection{in: in, only: only, rows: map[key]*Stats{}, cons: map[key]*jetstream.ConsumerInfo{}}
	work, err := in.js.Stream(ctx, in.names.WorkStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil // nothing was ever enqueued here (or the prefix is wrong)
	}
	if err != nil {
		return nil, fmt.Errorf("queues: %w", err)
	}
	queued, err := c.work(ctx, work)
	if err != nil {
		return nil, err
	}
	workers, err := in.workers(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.deadLettered(ctx); err != nil {
		return nil, err
	}
	if err := c.scheduled(ctx); err != nil {
		return nil, err
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
			}
			from = ci.Delivered.Stream + 1
		} else {
			r.Pending = queued[k]
		}
		if r.Pending > 0 {
			m, err := work.GetMsg(ctx, from, jetstream.WithGetMsgSubject(in.names.TaskSubject(k.queue, k.task)))
			switch {
			case err == nil:
				r.OldestPendingAge = max(now.Sub(m.Time), 0)
			case !errors.Is(err, jetstream.ErrMsgNotFound):
				return nil, fmt.Errorf("queues: oldest pending task of %s: %w", k.task, err)
			}
		}
	}
	out := make([]Stats, 0, len(c.rows))
	for _, r := range c.rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Stats) int {
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
		return nil, fmt.Errorf("queues: %w", err)
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
			return nil, fmt.Errorf("queues: %w", err)
		}
		take(cons.CachedInfo())
		return queued, nil
	}
	list := work.ListConsumers(ctx)
	for ci := range list.Info() {
		take(ci)
	}
	if err := list.Err(); err != nil {
		return nil, fmt.Errorf("queues: list consumers: %w", err)
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
		return fmt.Errorf("queues: %w", err)
	}
	base := n.Prefix() + ".dlq."
	info, err := dlq.Info(ctx, jetstream.WithSubjectFilter(c.subjects(base)))
	if err != nil {
		return fmt.Errorf("queues: %w", err)
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
		return fmt.Errorf("queues: %w", err)
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
				return fmt.Errorf("queues: read delayed tasks: %w", err)
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
			return fmt.Errorf("queues: read delayed tasks: %w", err)
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
func (in *Inspector) workers(ctx context.Context) (map[key]live, error) {
	ps, err := in.presences(ctx)
	if err != nil {
		return nil, err
	}
	out := map[key]live{}
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
