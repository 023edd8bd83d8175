package wire

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads the server's six-field cron expressions (seconds first).
// The server's parser derives from the same code (nats-server/server/cron.go).
var cronParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// descriptors are the server's named schedules, as it expands them.
var descriptors = map[string]string{
	"@yearly": "0 0 0 1 1 *", "@annually": "0 0 0 1 1 *", "@monthly": "0 0 0 1 * *",
	"@weekly": "0 0 0 * * 0", "@daily": "0 0 0 * * *", "@midnight": "0 0 0 * * *", "@hourly": "0 0 * * * *",
}

// Schedule is a parsed periodic schedule. It is part of the wire format:
// a fired periodic task's ID is its declaration's name and the tick read
// back from the server's next firing with it ([PeriodicID]), so every
// process must parse a schedule as the server does.
type Schedule struct {
	every time.Duration // for "@every <d>"
	cron  cron.Schedule
	loc   *time.Location
}

// ParseSchedule parses a periodic schedule as the server reads it: a cron
// expression with six fields (seconds first), "@every <duration>" of at
// least 1 s, or @yearly, @annually, @monthly, @weekly, @daily, @midnight or
// @hourly; cron and the named ones in time zone tz (an IANA name; "" is
// UTC), which "@every" does not take.
func ParseSchedule(spec, tz string) (Schedule, error) {
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		if tz != "" {
			return Schedule{}, errors.New("@every takes no time zone; use a cron expression to fire at wall-clock times")
		}
		d, err := time.ParseDuration(rest)
		if err != nil || d < time.Second {
			return Schedule{}, fmt.Errorf("schedule %q: @every needs a duration of at least 1s, such as \"@every 30s\"", spec)
		}
		return Schedule{every: d.Round(time.Second)}, nil
	}
	loc := time.UTC
	if tz != "" {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil || tz == "Local" {
			return Schedule{}, fmt.Errorf("time zone %q is not an IANA time zone name such as \"Europe/Berlin\"", tz)
		}
	}
	expr := spec
	if d, ok := descriptors[spec]; ok {
		expr = d
	}
	if strings.HasPrefix(expr, "@") || len(strings.Fields(expr)) != 6 {
		return Schedule{}, fmt.Errorf("schedule %q: want a cron expression of six fields, seconds first (\"0 */5 * * * *\"), \"@every <duration>\" or one of @hourly, @daily, @weekly, @monthly, @yearly", spec)
	}
	c, err := cronParser.Parse(expr)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %q: %w", spec, err)
	}
	if c.Next(time.Now().In(loc)).IsZero() {
		return Schedule{}, fmt.Errorf("schedule %q never fires (such as February 30); check the day and month fields", spec)
	}
	return Schedule{cron: c, loc: loc}, nil
}

// Next is the first firing after t.
func (s Schedule) Next(t time.Time) time.Time {
	if s.every > 0 {
		return t.Round(time.Second).Add(s.every)
	}
	return s.cron.Next(t.In(s.loc)).UTC()
}

// NextAfter is the first firing after now of a schedule declared at
// declared: "@every" counts its intervals from the declaration, as the
// server does.
func (s Schedule) NextAfter(declared, now time.Time) time.Time {
	if s.every == 0 {
		return s.Next(now)
	}
	first := s.Next(declared)
	if !first.Before(now) {
		return first.UTC()
	}
	n := now.Sub(first)/s.every + 1
	return first.Add(n * s.every).UTC()
}

// Tick is the firing that the server announced next as following it: the
// scheduled time of a fired periodic task, from its Nats-Schedule-Next.
func (s Schedule) Tick(next time.Time) time.Time {
	if s.every > 0 {
		return next.Add(-s.every)
	}
	// The last firing before next: look back for a window that holds one,
	// doubling it, then step forward to the last.
	for back := time.Second; back < 6*366*24*time.Hour; back *= 2 {
		t := s.Next(next.Add(-back))
		if !t.IsZero() && t.Before(next) {
			for u := s.Next(t); !u.IsZero() && u.Before(next); u = s.Next(u) {
				t = u
			}
			return t.UTC()
		}
	}
	return next.UTC()
}
