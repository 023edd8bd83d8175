package schedule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// Periodic declares a task that the server fires on a schedule.
type Periodic struct {
	// Name identifies the declaration across processes: lower-case
	// dot-separated tokens of [a-z0-9_-], as task names, such as
	// "reports.nightly".
	Name string `json:"name"`
	// Schedule is a cron expression of six fields, seconds first
	// ("0 30 2 * * *": 02:30:00 daily), "@every <duration>" of at least
	// 1s, or one of @hourly, @daily (@midnight), @weekly, @monthly, @yearly
	// (@annually).
	Schedule string `json:"schedule"`
	// TimeZone is the IANA time zone of a cron schedule, such as
	// "Europe/Berlin"; "" is UTC. "@every" takes none.
	TimeZone string `json:"time_zone"`
	// StaleAfter, if set, drops a tick that no worker has started within
	// StaleAfter of its time, such as the one the server fires on recovery
	// for the cron ticks it missed while down; at least 1s. 0, the default:
	// that tick runs (once, however many were missed). The server fires an
	// "@every" schedule on recovery as a fresh tick, which StaleAfter keeps. In JSON it is in
	// nanoseconds, as the durations of inspect.QueueStats, and left out when 0.
	StaleAfter time.Duration `json:"stale_after,omitzero"`
}

// ID is the task ID of the tick of periodic task name scheduled at tick:
// "<name>@<tick in RFC 3339, UTC>", such as
// "reports.nightly@2026-12-02T02:30:00Z".
func ID(name string, tick time.Time) string { return wire.PeriodicID(name, tick) }

// Declare makes p fire a task of def with payload on p's schedule. It is
// idempotent: any number of processes may declare the same p at start-up,
// and the task still fires once per tick. A declaration that differs from
// the stored one under the same name (schedule, time zone, task or
// payload) replaces it, and the new schedule applies from then on.
//
// An invalid name, schedule, time zone or payload is refused with an error
// wrapping [ErrInvalidOption] or tasks.ErrInvalidPayload, and nothing is
// stored. It needs nats-server 2.14 or newer ([ErrUnsupported]).
func Declare[T any](ctx context.Context, s *Schedules, def tasks.Def[T], p Periodic, payload T) error {
	if err := def.Check(); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	if err := tasks.ValidateName(p.Name); err != nil {
		return fmt.Errorf("%w: periodic task name: %w", ErrInvalidOption, err)
	}
	if _, err := wire.ParseSchedule(p.Schedule, p.TimeZone); err != nil {
		return fmt.Errorf("%w: periodic task %q: %w", ErrInvalidOption, p.Name, err)
	}
	if p.StaleAfter != 0 && p.StaleAfter < time.Second {
		return fmt.Errorf("%w: periodic task %q: StaleAfter must be at least 1s (0: run missed ticks once), got %v", ErrInvalidOption, p.Name, p.StaleAfter)
	}
	body, err := def.Encode(payload)
	if err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	st, err := s.scheduleStream(ctx)
	if err != nil {
		return err
	}
	msg := s.periodicMsg(def.Spec(), p, body)
	subject := msg.Subject
	for range 4 {
		last, err := st.GetLastMsgForSubject(ctx, subject)
		var seq uint64
		switch {
		case err == nil:
			if last.Header.Get(wire.HeaderPeriodicHash) == msg.Header.Get(wire.HeaderPeriodicHash) {
				return nil // declared as it is already
			}
			seq = last.Sequence
		case !errors.Is(err, jetstream.ErrMsgNotFound):
			return fmt.Errorf("schedule: read periodic task %q: %w", p.Name, err)
		}
		// Only over what was read: of two processes declaring at once, one
		// stores, and the other reads that again.
		_, err = s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(seq))
		if err == nil {
			return nil
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
			return fmt.Errorf("schedule: declare periodic task %q: %w", p.Name, err)
		}
	}
	return fmt.Errorf("schedule: declare periodic task %q: declared concurrently with other specs again and again", p.Name)
}

// periodicMsg is the schedule message of p: the task's body with the
// server's schedule headers and jetq's copy of the declaration, which the
// fired task keeps and its ID derives from.
func (s *Schedules) periodicMsg(spec tasks.Spec, p Periodic, body []byte) *nats.Msg {
	h := nats.Header{}
	h.Set(wire.HeaderSchedule, p.Schedule)
	h.Set(wire.HeaderScheduleTarget, s.names.FireSubject(spec.Queue, spec.Name))
	h.Set(wire.HeaderPeriodic, p.Name)
	h.Set(wire.HeaderPeriodicSchedule, p.Schedule)
	if p.TimeZone != "" {
		h.Set(wire.HeaderScheduleTimeZone, p.TimeZone)
		h.Set(wire.HeaderPeriodicTimeZone, p.TimeZone)
	}
	if p.StaleAfter > 0 {
		h.Set(wire.HeaderScheduleTTL, wire.TTL(p.StaleAfter+wire.TTLGrace))
		h.Set(wire.HeaderPeriodicStaleAfter, p.StaleAfter.String())
	}
	if ct := spec.Codec.ContentType(); ct != tasks.JSON.ContentType() {
		h.Set(wire.HeaderContentType, ct)
	}
	sum := sha256.New()
	for _, part := range []string{p.Schedule, p.TimeZone, p.StaleAfter.String(), spec.Queue, spec.Name, h.Get(wire.HeaderContentType)} {
		sum.Write([]byte(part))
		sum.Write([]byte{0})
	}
	sum.Write(body)
	h.Set(wire.HeaderPeriodicHash, hex.EncodeToString(sum.Sum(nil)[:16]))
	return &nats.Msg{Subject: s.names.PeriodicSubject(p.Name), Header: h, Data: body}
}
