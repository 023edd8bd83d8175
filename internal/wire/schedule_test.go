package wire

import (
	"testing"
	"time"

	"github.com/jetq/jetq/tasks"
)

func TestScheduleTickIsTheFiringBeforeNext(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		spec, tz   string
		next, want time.Time
	}{
		{"@every 1s", "", time.Date(2026, 12, 1, 10, 0, 5, 0, time.UTC), time.Date(2026, 12, 1, 10, 0, 4, 0, time.UTC)},
		{"@every 90m", "", time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC)},
		{"@hourly", "", time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)},
		{"*/15 * * * * *", "", time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 9, 59, 45, 0, time.UTC)},
		{"0 30 2 * * *", "Europe/Berlin", time.Date(2026, 12, 2, 2, 30, 0, 0, berlin), time.Date(2026, 12, 1, 1, 30, 0, 0, time.UTC)},
		{"@yearly", "", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"0 0 0 29 2 *", "", time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		s, err := ParseSchedule(c.spec, c.tz)
		if err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		if got := s.Tick(c.next); !got.Equal(c.want) {
			t.Errorf("%s in %q: tick before %v is %v, want %v", c.spec, c.tz, c.next, got, c.want)
		}
		// And Next goes back to next from the tick.
		if got := s.Next(c.want); !got.Equal(c.next) {
			t.Errorf("%s: next after %v is %v, want %v", c.spec, c.want, got, c.next)
		}
	}
}

func TestPeriodicIDFromTheFiredHeaders(t *testing.T) {
	h := tasks.Header{}
	h.Set(HeaderPeriodic, "reports.nightly")
	h.Set(HeaderPeriodicSchedule, "0 30 2 * * *")
	h.Set(HeaderPeriodicTimeZone, "Europe/Berlin")
	h.Set(HeaderScheduleNext, "2026-12-03T02:30:00+01:00")
	h.Set(HeaderPeriodicStaleAfter, "10m")
	if got, want := TaskID(h, "JETQ_TASKS", 7), "reports.nightly@2026-12-02T01:30:00Z"; got != want {
		t.Errorf("TaskID = %q, want %q", got, want)
	}
	if got, want := periodicDeadline(h), time.Date(2026, 12, 2, 1, 40, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("deadline = %v, want %v", got, want)
	}
	h.Set(HeaderID, "explicit")
	if got := TaskID(h, "JETQ_TASKS", 7); got != "explicit" {
		t.Errorf("TaskID with Jetq-Id = %q", got)
	}
}

func TestNextAfterCountsEveryFromTheDeclaration(t *testing.T) {
	s, err := ParseSchedule("@every 10s", "")
	if err != nil {
		t.Fatal(err)
	}
	declared := time.Date(2026, 12, 1, 10, 0, 3, 200e6, time.UTC) // fires at :13, :23, …
	now := time.Date(2026, 12, 1, 10, 1, 0, 0, time.UTC)
	if got, want := s.NextAfter(declared, now), time.Date(2026, 12, 1, 10, 1, 3, 0, time.UTC); !got.Equal(want) {
		t.Errorf("NextAfter = %v, want %v", got, want)
	}
}

func TestAtKeepsTheFraction(t *testing.T) {
	due := time.Date(2026, 12, 1, 10, 0, 0, 999e6, time.UTC)
	if got, want := At(due), "@at 2026-12-01T10:00:00.999Z"; got != want {
		t.Errorf("At = %q, want %q", got, want)
	}
	for d, want := range map[time.Duration]string{0: "1s", 300 * time.Millisecond: "1s", 1500 * time.Millisecond: "2s", time.Hour: "3600s"} {
		if got := TTL(d); got != want {
			t.Errorf("TTL(%v) = %q, want %q", d, got, want)
		}
	}
}
