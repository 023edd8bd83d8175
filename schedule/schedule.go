package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/internal/unique"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

var (
	// ErrInvalidOption is wrapped by errors about options and declarations.
	ErrInvalidOption = errors.New("schedule: invalid option")
	// ErrNotScheduled is wrapped when no delayed task with the ID waits: it
	// has fired already, was cancelled, or was never scheduled.
	ErrNotScheduled = errors.New("schedule: no delayed task waits with this ID (fired already, cancelled, or never scheduled)")
	// ErrNotFound is wrapped when no periodic task has the name.
	ErrNotFound = errors.New("schedule: no periodic task with this name")
	// ErrUnsupported is wrapped when the server cannot schedule messages.
	ErrUnsupported = errors.New("schedule: not supported by this server")
)

// Schedules reads and changes the schedules of one deployment. It is safe
// for concurrent use.
type Schedules struct {
	js    jetstream.JetStream
	topo  topology.Topology
	names wire.Names
	log   *slog.Logger

	unique *unique.Store
	states *statusstore.Store

	mu     sync.Mutex
	stream jetstream.Stream
}

// Option configures [New].
type Option func(*config)

type config struct {
	pub topology.Topology
	log *slog.Logger
}

// WithTopology sets the deployment's topology; give the same one as to its
// producers and workers. Default: the zero Topology, jetq's defaults.
func WithTopology(t topology.Topology) Option { return func(c *config) { c.pub = t } }

// WithPrefix sets the prefix of the deployment's stream and subject names.
// Default "jetq".
func WithPrefix(prefix string) Option { return func(c *config) { c.pub.Prefix = prefix } }

// WithLogger logs stream provisioning with l. Default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// New returns the schedules of the deployment js reaches; it does no I/O.
// It returns an error wrapping [ErrInvalidOption] for a topology out of
// range.
func New(js jetstream.JetStream, opts ...Option) (*Schedules, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
	}
	c := config{log: slog.Default()}
	for _, opt := range opts {
		opt(&c)
	}
	if err := c.pub.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	states, err := statusstore.New(js, c.pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return &Schedules{js: js, topo: c.pub, names: wire.NamesOf(c.pub), log: c.log, unique: unique.New(js, c.pub), states: states}, nil
}

// scheduleStream provisions the streams, once, and returns the schedule
// stream, or an error wrapping [ErrUnsupported] on an older server.
func (s *Schedules) scheduleStream(ctx context.Context) (jetstream.Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stream != nil {
		return s.stream, nil
	}
	work, err := provision.Streams(ctx, s.js, s.topo, s.log, 30*time.Second)
	if err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	if !s.names.Schedules(work) {
		return nil, fmt.Errorf("%w: scheduled tasks need %s or newer (the work stream %s does not take them)",
			ErrUnsupported, provision.MinSchedulingServer, work.Name)
	}
	st, err := s.js.Stream(ctx, s.names.ScheduleStream())
	if err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	s.stream = st
	return st, nil
}

// readStream returns the schedule stream for a read, creating nothing:
// nil when nothing was ever scheduled, an error wrapping [ErrUnsupported]
// when the work stream takes no scheduled tasks (an older server).
func (s *Schedules) readStream(ctx context.Context) (jetstream.Stream, error) {
	st, err := s.js.Stream(ctx, s.names.ScheduleStream())
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	work, err := s.js.Stream(ctx, s.names.WorkStream())
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, nil // nothing enqueued yet
	case err != nil:
		return nil, fmt.Errorf("schedule: %w", err)
	case !s.names.Schedules(work.CachedInfo().Config):
		return nil, fmt.Errorf("%w: scheduled tasks need %s or newer (the work stream %s does not take them)",
			ErrUnsupported, provision.MinSchedulingServer, s.names.WorkStream())
	}
	return nil, nil
}

// Delayed is a delayed task waiting for its time.
type Delayed struct {
	// ID, Task and Queue identify the task.
	ID    string `json:"id"`
	Task  string `json:"task"`
	Queue string `json:"queue"`
	// RunAt is when it is due.
	RunAt time.Time `json:"run_at"`
	// Sequence is its place in the schedule stream: the cursor of
	// [ListOptions.After].
	Sequence uint64 `json:"seq"`
}

// ListOptions pages [Schedules.ListDelayed].
type ListOptions struct {
	// After lists the delayed tasks stored after this sequence, the last of
	// the previous page; 0 starts at the first.
	After uint64
	// Limit bounds the page; 0 means 100.
	Limit int
}

// ListDelayed returns the delayed tasks that have not fired yet, in the
// order they were enqueued, one page at a time: pass the last Sequence as
// the next call's After. A page shorter than the limit is the last.
func (s *Schedules) ListDelayed(ctx context.Context, o ListOptions) ([]Delayed, error) {
	if o.Limit < 0 || o.After > 1<<62 {
		return nil, fmt.Errorf("%w: limit must not be negative, got %d", ErrInvalidOption, o.Limit)
	}
	limit := o.Limit
	if limit == 0 {
		limit = 100
	}
	st, err := s.readStream(ctx)
	if err != nil || st == nil {
		return nil, err
	}
	var out []Delayed
	filter := s.names.DelayedSubjects() + "*"
	for seq := o.After + 1; len(out) < limit; {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("schedule: read delayed tasks: %w", err)
		}
		seq = m.Sequence + 1
		d, err := s.delayed(m)
		if err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "jetq: skipping unreadable schedule", slog.Uint64("seq", m.Sequence), slog.String("error", err.Error()))
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *Schedules) delayed(m *jetstream.RawStreamMsg) (Delayed, error) {
	id, err := s.names.ParseDelayedSubject(m.Subject)
	if err != nil {
		return Delayed{}, err
	}
	d := Delayed{ID: id, Sequence: m.Sequence}
	if d.Queue, d.Task, err = s.names.ParseFireSubject(m.Header.Get(wire.HeaderScheduleTarget)); err != nil {
		return Delayed{}, err
	}
	if d.RunAt, err = wire.ParseTime(m.Header.Get(wire.HeaderRunAt)); err != nil {
		return Delayed{}, fmt.Errorf("run-at header: %w", err)
	}
	return d, nil
}

// GetDelayed returns the delayed task id, or an error wrapping
// [ErrNotScheduled].
func (s *Schedules) GetDelayed(ctx context.Context, id string) (Delayed, error) {
	st, err := s.readStream(ctx)
	if err != nil {
		return Delayed{}, err
	}
	if st == nil {
		return Delayed{}, fmt.Errorf("task %q: %w", id, ErrNotScheduled)
	}
	m, err := st.GetLastMsgForSubject(ctx, s.names.DelayedSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Delayed{}, fmt.Errorf("task %q: %w", id, ErrNotScheduled)
	}
	if err != nil {
		return Delayed{}, fmt.Errorf("schedule: %w", err)
	}
	return s.delayed(m)
}

// Cancel withdraws the delayed task id so that it never runs. It returns an
// error wrapping [ErrNotScheduled] when no such task waits: it has fired
// already (then it runs, or has run, as any task), was cancelled, or never
// existed. A cancelled task's unique key is released, and a tracked one
// reads status "cancelled". A cancel in the instant the server fires the
// task (within a few milliseconds of its time) may return nil and not stop
// it; earlier it always does.
func (s *Schedules) Cancel(ctx context.Context, id string) error {
	st, err := s.scheduleStream(ctx)
	if err != nil {
		return err
	}
	m, err := st.GetLastMsgForSubject(ctx, s.names.DelayedSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("task %q: %w", id, ErrNotScheduled)
	}
	if err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	// The server looks a schedule up when it is due and fires nothing for a
	// deleted one.
	err = st.DeleteMsg(ctx, m.Sequence)
	if err != nil && retry.Gone(err) {
		return fmt.Errorf("task %q: %w", id, ErrNotScheduled)
	}
	if err != nil {
		return fmt.Errorf("schedule: cancel task %q: %w", id, err)
	}
	if err := s.states.Settle(ctx, id, func(st *status.Status) { st.State = status.Cancelled }); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot record the cancelled task's status",
			slog.String("task_id", id), slog.String("error", err.Error()))
	}
	if key := m.Header.Get(wire.HeaderUnique); key != "" {
		queue, name, err := s.names.ParseFireSubject(m.Header.Get(wire.HeaderScheduleTarget))
		if err == nil {
			err = s.unique.Release(ctx, tasks.Spec{Queue: queue, Name: name}, key, id)
		}
		if err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot release the cancelled task's unique key; its TTL will",
				slog.String("task_id", id), slog.String("error", err.Error()))
		}
	}
	return nil
}
