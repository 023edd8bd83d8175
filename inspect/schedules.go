package inspect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/tasks"
)

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
