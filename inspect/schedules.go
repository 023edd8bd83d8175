package inspect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// DelayedTask is a delayed task waiting in the schedule stream for its
// time (producer.WithDelay, producer.WithRunAt).
type DelayedTask struct {
	// ID, Task and Queue identify the task.
	ID    string `json:"id"`
	Task  string `json:"task"`
	Queue string `json:"queue"`
	// RunAt is when it is due.
	RunAt time.Time `json:"run_at"`
	// Sequence is its place in the schedule stream: the cursor of
	// [DelayedOptions.After].
	Sequence uint64 `json:"seq"`
}

// DelayedOptions pages [Inspector.DelayedTasks].
type DelayedOptions struct {
	// After lists the delayed tasks stored after this sequence, the last of
	// the previous page; 0 starts at the first.
	After uint64
	// Limit bounds the page; 0 means 100.
	Limit int
}

// PeriodicTask is a periodic task declared with schedule.Declare.
type PeriodicTask struct {
	schedule.Periodic
	// Task and Queue are the task type it fires.
	Task  string `json:"task"`
	Queue string `json:"queue"`
	// Next is when it fires next.
	Next time.Time `json:"next"`
	// DeclaredAt is when the current declaration was stored.
	DeclaredAt time.Time `json:"declared_at"`
}

// errNotScheduled is wrapped by the errors about a delayed task that does
// not wait.
var errNotScheduled = fmt.Errorf("%w: no delayed task waits with this ID (fired already, cancelled, or never scheduled)", ErrNotFound)

// scheduleStream returns the schedule stream for a read, creating nothing:
// nil when nothing was ever scheduled, an error wrapping
// [ErrUnsupported] when the work stream takes no scheduled tasks (an
// older server).
func (in *Inspector) scheduleStream(ctx context.Context) (jetstream.Stream, error) {
	st, err := in.js.Stream(ctx, in.names.ScheduleStream())
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	work, err := in.js.Stream(ctx, in.names.WorkStream())
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, nil // nothing enqueued yet
	case err != nil:
		return nil, fmt.Errorf("inspect: %w", err)
	case !in.names.Schedules(work.CachedInfo().Config):
		return nil, fmt.Errorf("%w: scheduled tasks need %s or newer (the work stream %s does not take them)",
			ErrUnsupported, provision.MinSchedulingServer, in.names.WorkStream())
	}
	return nil, nil
}

// DelayedTasks returns the delayed tasks that have not fired yet, in the
// order they were enqueued, one page at a time: pass the last Sequence as
// the next call's After. A page shorter than the limit is the last. It
// reads one message a delayed task. It returns an error wrapping
// [ErrInvalidQuery] for a negative limit, and one wrapping
// [ErrUnsupported] on a server that cannot schedule tasks.
func (in *Inspector) DelayedTasks(ctx context.Context, o DelayedOptions) ([]DelayedTask, error) {
	if o.Limit < 0 || o.After > 1<<62 {
		return nil, fmt.Errorf("%w: limit must not be negative, got %d", ErrInvalidQuery, o.Limit)
	}
	limit := o.Limit
	if limit == 0 {
		limit = 100
	}
	st, err := in.scheduleStream(ctx)
	if err != nil || st == nil {
		return nil, err
	}
	var out []DelayedTask
	filter := in.names.DelayedSubjects() + "*"
	for seq := o.After + 1; len(out) < limit; {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("inspect: read delayed tasks: %w", err)
		}
		seq = m.Sequence + 1
		d, err := in.delayedTask(m)
		if err != nil {
			in.log.LogAttrs(ctx, slog.LevelWarn, "jetq: skipping unreadable schedule", slog.Uint64("seq", m.Sequence), slog.String("error", err.Error()))
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

func (in *Inspector) delayedTask(m *jetstream.RawStreamMsg) (DelayedTask, error) {
	id, err := in.names.ParseDelayedSubject(m.Subject)
	if err != nil {
		return DelayedTask{}, err
	}
	d := DelayedTask{ID: id, Sequence: m.Sequence}
	if d.Queue, d.Task, err = in.names.ParseFireSubject(m.Header.Get(wire.HeaderScheduleTarget)); err != nil {
		return DelayedTask{}, err
	}
	if d.RunAt, err = wire.ParseTime(m.Header.Get(wire.HeaderRunAt)); err != nil {
		return DelayedTask{}, fmt.Errorf("run-at header: %w", err)
	}
	return d, nil
}

// DelayedTask returns the delayed task id. It returns an error wrapping
// [ErrNotFound] when none waits: it has fired already, was cancelled, or
// never existed.
func (in *Inspector) DelayedTask(ctx context.Context, id string) (DelayedTask, error) {
	st, err := in.scheduleStream(ctx)
	if err != nil {
		return DelayedTask{}, err
	}
	if st == nil {
		return DelayedTask{}, fmt.Errorf("task %q: %w", id, errNotScheduled)
	}
	m, err := st.GetLastMsgForSubject(ctx, in.names.DelayedSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DelayedTask{}, fmt.Errorf("task %q: %w", id, errNotScheduled)
	}
	if err != nil {
		return DelayedTask{}, fmt.Errorf("inspect: %w", err)
	}
	return in.delayedTask(m)
}

// CancelDelayed withdraws the delayed task id so that it never runs. It
// returns an error wrapping [ErrNotFound] when no such task waits: it has
// fired already (then it runs, or has run, as any task), was cancelled, or
// never existed. A cancelled task's unique key is released, and a tracked
// one reads status "cancelled". A cancel in the instant the server fires
// the task (within a few milliseconds of its time) may return nil and not
// stop it; earlier it always does.
func (in *Inspector) CancelDelayed(ctx context.Context, id string) error {
	st, err := in.scheduleStream(ctx)
	if err != nil {
		return err
	}
	if st == nil {
		return fmt.Errorf("task %q: %w", id, errNotScheduled)
	}
	m, err := st.GetLastMsgForSubject(ctx, in.names.DelayedSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("task %q: %w", id, errNotScheduled)
	}
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	// The server looks a schedule up when it is due and fires nothing for a
	// deleted one.
	err = st.DeleteMsg(ctx, m.Sequence)
	if err != nil && retry.Gone(err) {
		return fmt.Errorf("task %q: %w", id, errNotScheduled)
	}
	if err != nil {
		return fmt.Errorf("inspect: cancel task %q: %w", id, err)
	}
	in.log.LogAttrs(ctx, slog.LevelInfo, "jetq: delayed task cancelled", slog.String("task_id", id))
	if err := in.states.Settle(ctx, id, func(st *status.Status) { st.State = status.Cancelled }); err != nil {
		in.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot record the cancelled task's status",
			slog.String("task_id", id), slog.String("error", err.Error()))
	}
	if key := m.Header.Get(wire.HeaderUnique); key != "" {
		queue, name, err := in.names.ParseFireSubject(m.Header.Get(wire.HeaderScheduleTarget))
		if err == nil {
			err = in.unique.Release(ctx, tasks.Spec{Queue: queue, Name: name}, key, id)
		}
		if err != nil {
			in.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot release the cancelled task's unique key; its TTL will",
				slog.String("task_id", id), slog.String("error", err.Error()))
		}
	}
	return nil
}

// PeriodicTasks returns the declared periodic tasks, in the order
// declared. It returns an error wrapping [ErrUnsupported] on a
// server that cannot schedule tasks.
func (in *Inspector) PeriodicTasks(ctx context.Context) ([]PeriodicTask, error) {
	st, err := in.scheduleStream(ctx)
	if err != nil || st == nil {
		return nil, err
	}
	var out []PeriodicTask
	filter := in.names.PeriodicSubjects() + ">"
	for seq := uint64(1); ; {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("inspect: read periodic tasks: %w", err)
		}
		seq = m.Sequence + 1
		if p, err := in.periodic(m, time.Now()); err == nil {
			out = append(out, p)
		}
	}
}

// PeriodicTask returns the periodic task name. It returns an error wrapping
// [ErrNotFound] when none is declared, and one wrapping [ErrInvalidQuery]
// for a name that is not a periodic task's.
func (in *Inspector) PeriodicTask(ctx context.Context, name string) (PeriodicTask, error) {
	st, err := in.periodicStream(ctx, name)
	if err != nil {
		return PeriodicTask{}, err
	}
	m, err := st.GetLastMsgForSubject(ctx, in.names.PeriodicSubject(name))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return PeriodicTask{}, fmt.Errorf("%w: no periodic task with this name: %q", ErrNotFound, name)
	}
	if err != nil {
		return PeriodicTask{}, fmt.Errorf("inspect: %w", err)
	}
	return in.periodic(m, time.Now())
}

// periodicStream checks name and returns the schedule stream that may hold
// its declaration.
func (in *Inspector) periodicStream(ctx context.Context, name string) (jetstream.Stream, error) {
	if err := tasks.ValidateName(name); err != nil {
		return nil, fmt.Errorf("%w: periodic task name: %w", ErrInvalidQuery, err)
	}
	st, err := in.scheduleStream(ctx)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("%w: no periodic task with this name: %q", ErrNotFound, name)
	}
	return st, nil
}

func (in *Inspector) periodic(m *jetstream.RawStreamMsg, now time.Time) (PeriodicTask, error) {
	p := PeriodicTask{
		Periodic: schedule.Periodic{
			Name:     m.Header.Get(wire.HeaderPeriodic),
			Schedule: m.Header.Get(wire.HeaderPeriodicSchedule),
			TimeZone: m.Header.Get(wire.HeaderPeriodicTimeZone),
		},
		DeclaredAt: m.Time.UTC(),
	}
	if v := m.Header.Get(wire.HeaderPeriodicStaleAfter); v != "" {
		p.StaleAfter, _ = time.ParseDuration(v)
	}
	var err error
	if p.Queue, p.Task, err = in.names.ParseFireSubject(m.Header.Get(wire.HeaderScheduleTarget)); err != nil {
		return p, err
	}
	sched, err := wire.ParseSchedule(p.Schedule, p.TimeZone)
	if err != nil {
		return p, err
	}
	p.Next = sched.NextAfter(m.Time, now)
	return p, nil
}

// RemovePeriodic deletes the periodic task name: it fires no more. Ticks
// fired already still run. A process that declares it again at its start
// brings it back. It returns an error wrapping [ErrNotFound] for an
// unknown name, and one wrapping [ErrInvalidQuery] for a name that is not a
// periodic task's (such as a wildcard).
func (in *Inspector) RemovePeriodic(ctx context.Context, name string) error {
	st, err := in.periodicStream(ctx, name)
	if err != nil {
		return err
	}
	subject := in.names.PeriodicSubject(name)
	if _, err := st.GetLastMsgForSubject(ctx, subject); errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("%w: no periodic task with this name: %q", ErrNotFound, name)
	} else if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return fmt.Errorf("inspect: remove periodic task %q: %w", name, err)
	}
	in.log.LogAttrs(ctx, slog.LevelInfo, "jetq: periodic task removed", slog.String("periodic", name))
	return nil
}
