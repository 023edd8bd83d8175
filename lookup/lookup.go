package lookup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// DefaultScan is how many work-stream messages Find reads at most to find
// a task's message.
const DefaultScan = 1000

// DefaultDeadLetterScan is how many dead-letter records Find reads at most,
// newest first.
const DefaultDeadLetterScan = 5000

// ErrInvalidOption is wrapped by the errors of [New] about its options and
// of [Finder.Find] about an empty ID.
var ErrInvalidOption = errors.New("lookup: invalid option")

// Result is everything found about one task ID. The JSON field names are
// snake_case.
type Result struct {
	ID string `json:"id"`
	// Status is the status record of a tracked task (tasks.WithStateTracking).
	Status *status.Status `json:"status"`
	// DeadLetters are its dead-letter records, oldest first: several when it
	// failed again after a replay.
	DeadLetters []inspect.DeadLetter `json:"dead_letters"`
	// Work is its message in the work stream, while it is queued or running.
	Work *Work `json:"work"`
	// Scheduled is the delayed task waiting for its time.
	Scheduled *schedule.Delayed `json:"scheduled"`
	// Notes say what was not looked at, or only in part.
	Notes []string `json:"notes,omitempty"`
}

// Work is a task's message in the work stream.
type Work struct {
	Stream  string `json:"stream"`
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"`
	Task    string `json:"task"`
	Queue   string `json:"queue"`
	// State is one of the Work states: WorkQueued, WorkRunning,
	// WorkWaitingToRetry or WorkDelivered.
	State    string      `json:"state"`
	StoredAt time.Time   `json:"stored_at"`
	Header   nats.Header `json:"header,omitempty"`
	Payload  []byte      `json:"payload,omitempty"`
}

// The states of a task's message in the work stream. The server tells
// only whether the message was delivered; which of the delivered states
// it is comes from the task's status record, so an untracked task
// delivered and not acknowledged is WorkDelivered.
const (
	// WorkQueued: stored and not delivered to a worker yet.
	WorkQueued = "queued"
	// WorkRunning: delivered, and its status says a handler runs it.
	WorkRunning = "running"
	// WorkWaitingToRetry: delivered, and its status says an attempt failed
	// and the next is still to come: it waits out its backoff, and no
	// worker holds it.
	WorkWaitingToRetry = "waiting_to_retry"
	// WorkDelivered: delivered and not acknowledged, and no status says
	// more: a handler runs it, a worker holds it in its prefetch, it waits
	// out a retry backoff, or its worker is gone and it is due again after
	// its ack wait.
	WorkDelivered = "delivered"
)

// Found reports whether anything was found.
func (r Result) Found() bool {
	return r.Status != nil || len(r.DeadLetters) > 0 || r.Work != nil || r.Scheduled != nil
}

// Task is the queue and name of the task, from whatever was found; empty
// when nothing was.
func (r Result) Task() (queue, name string) {
	switch {
	case r.Status != nil && r.Status.Task != "":
		return r.Status.Queue, r.Status.Task
	case len(r.DeadLetters) > 0:
		e := r.DeadLetters[len(r.DeadLetters)-1]
		return e.Queue, e.Task
	case r.Scheduled != nil:
		return r.Scheduled.Queue, r.Scheduled.Task
	case r.Work != nil:
		return r.Work.Queue, r.Work.Task
	}
	return "", ""
}

// Option configures a [Finder]; pass options to [New].
type Option func(*config)

type config struct {
	pub     topology.Topology
	scan    int
	dlqScan int
}

// WithTopology sets the deployment's topology; only its Prefix matters.
// Default: the zero Topology.
func WithTopology(t topology.Topology) Option { return func(c *config) { c.pub = t } }

// WithPrefix sets the prefix of the deployment's stream and subject names.
// Default "jetq".
func WithPrefix(prefix string) Option { return func(c *config) { c.pub.Prefix = prefix } }

// WithScan bounds how many work-stream messages Find reads to find the
// task's message; 0 skips the work stream. Default [DefaultScan].
func WithScan(n int) Option { return func(c *config) { c.scan = n } }

// WithDeadLetterScan bounds how many dead-letter records Find reads, newest
// first, to find the task's: of its task type when its status or schedule
// names it, of every type otherwise; -1 reads every record. Default
// [DefaultDeadLetterScan].
func WithDeadLetterScan(n int) Option { return func(c *config) { c.dlqScan = n } }

// Finder finds tasks by ID. It is safe for concurrent use.
type Finder struct {
	js        jetstream.JetStream
	cfg       config
	names     wire.Names
	dlq       *inspect.Inspector
	schedules *schedule.Schedules
}

// New returns a Finder reading through js. It does no I/O. It returns an
// error wrapping [ErrInvalidOption] for a nil js, a bad prefix or a
// negative scan.
func New(js jetstream.JetStream, opts ...Option) (*Finder, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
	}
	cfg := config{scan: DefaultScan, dlqScan: DefaultDeadLetterScan}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.scan < 0 {
		return nil, fmt.Errorf("%w: scan must not be negative, got %d", ErrInvalidOption, cfg.scan)
	}
	if cfg.dlqScan < 1 && cfg.dlqScan != -1 {
		return nil, fmt.Errorf("%w: dead-letter scan must be positive or -1 for every record, got %d", ErrInvalidOption, cfg.dlqScan)
	}
	if err := cfg.pub.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	in, err := inspect.New(js, inspect.WithTopology(cfg.pub), inspect.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	sched, err := schedule.New(js, schedule.WithTopology(cfg.pub), schedule.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	return &Finder{js: js, cfg: cfg, names: wire.NamesOf(cfg.pub), dlq: in, schedules: sched}, nil
}

// Find looks the task with ID id up everywhere. A result that found
// nothing is not an error: see [Result.Found]. It returns an error when a
// source could not be read, and one wrapping [ErrInvalidOption] for an
// empty id.
func (f *Finder) Find(ctx context.Context, id string) (Result, error) {
	if id == "" {
		return Result{}, fmt.Errorf("%w: the task ID is empty", ErrInvalidOption)
	}
	r := Result{ID: id, DeadLetters: []inspect.DeadLetter{}}
	var err error
	if r.Status, err = f.status(ctx, id); err != nil {
		return Result{}, err
	}
	if r.Scheduled, err = f.scheduled(ctx, id); err != nil {
		return Result{}, err
	}
	if err := f.deadLetters(ctx, &r); err != nil {
		return Result{}, err
	}
	if err := f.work(ctx, &r); err != nil {
		return Result{}, err
	}
	return r, nil
}

// status reads the status record, without creating the bucket.
func (f *Finder) status(ctx context.Context, id string) (*status.Status, error) {
	if _, err := f.js.KeyValue(ctx, f.names.StatusBucket()); errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("lookup: status bucket %s: %w", f.names.StatusBucket(), err)
	}
	tr, err := inspect.New(f.js, inspect.WithTopology(f.cfg.pub))
	if err != nil {
		return nil, err
	}
	st, err := tr.Status(ctx, id)
	switch {
	case errors.Is(err, status.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &st, nil
}

// deadLetters reads the task's dead-letter records, newest first, at most
// the bound of them: on its task type's subject when its name is known,
// on every subject otherwise.
func (f *Finder) deadLetters(ctx context.Context, r *Result) error {
	queue, name := r.Task()
	p, err := f.dlq.DeadLetterPage(ctx, inspect.DeadLetterFilter{Queue: queue, Task: name, ID: r.ID, Order: inspect.NewestFirst, Limit: -1, MaxRead: max(f.cfg.dlqScan, 0)})
	if err != nil {
		return err
	}
	if p.Partial {
		where := "dead-letter records"
		if name != "" {
			where = "dead-letter records of " + queue + "/" + name
		}
		r.Notes = append(r.Notes, fmt.Sprintf("read the newest %d %s; older ones were not looked at "+
			"(lookup.WithDeadLetterScan reads further)", p.Read, where))
	}
	slices.Reverse(p.Entries) // oldest first
	for i, e := range p.Entries {
		if e.Truncated { // the whole original, as FindByTaskID gives it
			if p.Entries[i], err = f.dlq.DeadLetter(ctx, e.Seq); err != nil {
				return err
			}
		}
	}
	r.DeadLetters = p.Entries
	return nil
}

// scheduled reads the delayed task.
func (f *Finder) scheduled(ctx context.Context, id string) (*schedule.Delayed, error) {
	d, err := f.schedules.GetDelayed(ctx, id)
	switch {
	case errors.Is(err, schedule.ErrNotScheduled), errors.Is(err, schedule.ErrUnsupported):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &d, nil
}

// work finds the task's message in the work stream.
func (f *Finder) work(ctx context.Context, r *Result) error {
	if f.cfg.scan == 0 {
		r.Notes = append(r.Notes, "work stream not looked at (scan 0)")
		return nil
	}
	names := f.names
	work, err := f.js.Stream(ctx, names.WorkStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lookup: stream %s: %w", names.WorkStream(), err)
	}
	subject := names.WorkSubjects()
	if q, n := r.Task(); n != "" {
		subject = names.TaskSubject(q, n)
	}
	m, read, err := scan(ctx, work, subject, r.ID, f.cfg.scan)
	if err != nil {
		return err
	}
	if m == nil {
		if read >= f.cfg.scan {
			r.Notes = append(r.Notes, fmt.Sprintf("read the first %d messages on %s in %s without finding the task; "+
				"more follow: a larger scan (lookup.WithScan, jetq task show --scan) reads further", read, subject, names.WorkStream()))
		}
		return nil
	}
	r.Work, err = f.workOf(ctx, m, r.Status)
	return err
}

// scan reads the messages on subject in the work stream, oldest first, at
// most limit, until one carries the task ID id. It returns that message,
// or nil, and how many it read.
func scan(ctx context.Context, s jetstream.Stream, subject, id string, limit int) (*jetstream.RawStreamMsg, int, error) {
	stream := s.CachedInfo().Config.Name
	from := uint64(1)
	for read := 0; read < limit; read++ {
		m, err := s.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, read, nil // no more on subject
		}
		if err != nil {
			return nil, read, fmt.Errorf("lookup: read %s: %w", stream, err)
		}
		if wire.TaskID(tasks.Header(m.Header), stream, m.Sequence) == id {
			return m, read + 1, nil
		}
		from = m.Sequence + 1
	}
	return nil, limit, nil
}

// workOf describes a work-stream message; whether it was delivered is what
// its durable consumer delivered so far: the work stream keeps a message
// until it is acknowledged. What a delivered message waits for comes from
// the task's status st, when it has one.
func (f *Finder) workOf(ctx context.Context, m *jetstream.RawStreamMsg, st *status.Status) (*Work, error) {
	names := f.names
	w := &Work{Stream: names.WorkStream(), Seq: m.Sequence, Subject: m.Subject, State: WorkQueued, StoredAt: m.Time, Header: m.Header, Payload: m.Data}
	q, n, err := names.ParseTaskSubject(m.Subject)
	if err != nil {
		return w, nil
	}
	w.Queue, w.Task = q, n
	c, err := f.js.Consumer(ctx, names.WorkStream(), names.Durable(q, n))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return w, nil // no worker ever ran this task: queued
	}
	if err != nil {
		return nil, fmt.Errorf("lookup: consumer %s: %w", names.Durable(q, n), err)
	}
	if c.CachedInfo().Delivered.Stream >= m.Sequence {
		w.State = delivered(st, time.Now())
	}
	return w, nil
}

// delivered is the state of a delivered message whose task's status, if
// it has one, is st as of now. A retry whose time has come is delivered
// again, and its status says so only once a handler runs it.
func delivered(st *status.Status, now time.Time) string {
	switch {
	case st == nil:
		return WorkDelivered
	case st.State == status.Running:
		return WorkRunning
	case st.State == status.Retrying && st.NextAttemptAt.After(now):
		return WorkWaitingToRetry
	}
	return WorkDelivered
}
