package wire

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/tasks"
)

// The fuzz targets read what comes off the wire: anything any publisher put
// on a task subject, and anything in the dead-letter stream. Their inputs
// are messages in the golden files' form (see testkit.ParseMessage), seeded
// from those files; test.sh runs each for a short while.

// wireMsg is a delivered message as ReadRoute reads it. Its other methods
// are nil and panic if called.
type wireMsg struct {
	jetstream.Msg
	subject string
	header  nats.Header
	data    []byte
}

func (m wireMsg) Subject() string      { return m.subject }
func (m wireMsg) Headers() nats.Header { return m.header }
func (m wireMsg) Data() []byte         { return m.data }

// FuzzReadRoute reads a delivery as a worker does: a malformed one is an
// error wrapping ErrMalformed with the task's ID still read (the worker
// dead-letters it by that ID), a good one names a task whose subject it came
// on.
func FuzzReadRoute(f *testing.F) {
	testkit.AddGoldenSeeds(f, "testdata", "task_", uint64(1), false)
	testkit.AddGoldenSeeds(f, "testdata", "deadletter_", uint64(3), true)
	// TestReadRouteSetsIDOfMalformedMessages's cases, and a periodic tick.
	for _, m := range []string{
		"subject: jetq.task.default.email.send\nJetq-Version: 9\nJetq-Id: task-1\n\n{}",
		"subject: jetq.task.default.email.send\nJetq-Task: other.task\nJetq-Id: task-2\n\n{}",
		"subject: jetq.task.default.email.send\nJetq-Queue: other\nNats-Msg-Id: raw-3\n\n{}",
		"subject: jetq.task.default\n\n",
		"subject: jetq.task.default.email.send\nJetq-Deadline: tomorrow\n\n{}",
		"subject: jetq.task.default.email.send\nJetq-Periodic: reports.nightly\nJetq-Periodic-Schedule: 0 30 2 * * *\n" +
			"Jetq-Periodic-Time-Zone: Europe/Berlin\nNats-Schedule-Next: 2026-12-03T02:30:00+01:00\nJetq-Periodic-Stale-After: 10m\n\n{}",
	} {
		f.Add([]byte(m), uint64(1), true)
	}
	names := Names{}
	f.Fuzz(func(t *testing.T, b []byte, delivered uint64, routed bool) {
		subject, h, body, ok := testkit.ParseMessage(b)
		if !ok {
			return
		}
		md := &jetstream.MsgMetadata{Stream: "JETQ_TASKS", Consumer: "c", NumDelivered: delivered,
			Sequence: jetstream.SequencePair{Stream: 7}, Timestamp: at}
		// A worker's consumer filters on one task subject; a delivery on
		// another subject is parsed.
		var route, queue, name string
		if routed {
			route, queue, name = names.TaskSubject("default", "email.send"), "default", "email.send"
		}
		var env tasks.Envelope
		err := ReadRoute(&env, names, wireMsg{subject: subject, header: h, data: body}, md, route, queue, name)
		if env.ID == "" {
			t.Errorf("no task ID read (err %v)", err)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if got := names.TaskSubject(env.Queue, env.Name); got != subject {
			t.Errorf("read queue %q, task %q from subject %q", env.Queue, env.Name, subject)
		}
		if !bytes.Equal(env.Body, body) || env.EnqueuedAt.IsZero() {
			t.Errorf("read body %q, enqueued at %v", env.Body, env.EnqueuedAt)
		}
	})
}

// FuzzDeadLetter files any delivery as a worker does and reads the record
// back as the inspector does: the record fits the server's limits and says
// the failure it was given.
func FuzzDeadLetter(f *testing.F) {
	testkit.AddGoldenSeeds(f, "testdata", "task_", "smtp: 550\r\nat line 2", 1<<20)
	testkit.AddGoldenSeeds(f, "testdata", "deadletter_", strings.Repeat("e", 5000), 1000)
	names := Names{}
	f.Fuzz(func(t *testing.T, b []byte, errText string, payload int) {
		subject, h, body, ok := testkit.ParseMessage(b)
		if !ok {
			return
		}
		// A server's max_payload, at least a full header block.
		lim := Limits{Payload: MaxHeaderBytes + min(max(payload, 0), 8<<20)}
		fl := Failure{Reason: tasks.ReasonPermanent, Error: errText, Stream: "JETQ_TASKS", Seq: 7,
			Subject: subject, StoredAt: at, Deliveries: 2, At: at}
		rec := DeadLetter(names, "default", "email.send", h, body, fl, lim)
		if n := HeaderSize(rec.Header); !lim.fits(rec.Header, len(rec.Data)) {
			t.Fatalf("record of %d header and %d body bytes does not fit %+v", n, len(rec.Data), lim)
		}
		got, err := ParseFailure(rec.Header)
		if err != nil {
			t.Fatalf("the record's failure does not read back: %v", err)
		}
		if got.Reason != fl.Reason || got.Seq != fl.Seq || got.Deliveries != fl.Deliveries || !got.At.Equal(fl.At) ||
			got.Stream != fl.Stream || got.Subject != fl.Subject || strings.ContainsAny(got.Error, "\r\n") {
			t.Errorf("read back %+v, filed %+v", got, fl)
		}
		if rec.Header.Get(HeaderID) == "" {
			t.Error("the record has no task ID")
		}
	})
}

// FuzzParseFailure reads any header as a dead-letter record's failure: a
// bad one is an error wrapping ErrMalformed, which the inspector reports.
func FuzzParseFailure(f *testing.F) {
	testkit.AddGoldenSeeds(f, "testdata", "")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, h, _, ok := testkit.ParseMessage(b)
		if !ok {
			return
		}
		if _, err := ParseFailure(h); err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("error %v does not wrap ErrMalformed", err)
		}
	})
}

// FuzzDecodeOriginal reads any object as a truncated record's stored
// original, as the inspector does when it restores one.
func FuzzDecodeOriginal(f *testing.F) {
	testkit.AddGoldenSeeds(f, "testdata", "")
	f.Fuzz(func(t *testing.T, b []byte) {
		if subject, h, body, ok := testkit.ParseMessage(b); ok && subject != "" {
			// A message as the inspector stores it, and a round trip.
			enc, err := EncodeOriginal(h, body)
			if err != nil {
				t.Fatal(err)
			}
			h2, body2, err := DecodeOriginal(enc)
			if err != nil || !bytes.Equal(body, body2) || !maps.EqualFunc(h, h2, slices.Equal) {
				t.Errorf("round trip: %v, header %q, body %q; want %q, %q", err, h2, body2, h, body)
			}
		}
		if _, _, err := DecodeOriginal(b); err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("error %v does not wrap ErrMalformed", err)
		}
	})
}

// FuzzPeriodicTick reads a fired periodic task's headers as a worker does:
// the tick it derives its ID from is never after the firing the server
// announced next, and a bad header makes no ID rather than a panic.
func FuzzPeriodicTick(f *testing.F) {
	f.Add("reports.nightly", "0 30 2 * * *", "Europe/Berlin", "2026-12-03T02:30:00+01:00", "10m")
	f.Add("rollup", "@every 1s", "", "2026-12-03T02:30:00.5Z", "")
	f.Add("rollup", "@every 90m", "", "2026-12-03T02:30:00Z", "1h")
	f.Add("weekly", "@weekly", "America/New_York", "2026-03-08T00:00:00-05:00", "1s")
	f.Add("leap", "0 0 12 29 2 *", "", "2028-02-29T12:00:00Z", "24h")
	f.Add("dst", "0 30 2 * * *", "Europe/Berlin", "2026-03-29T02:30:00+02:00", "-1h")
	f.Fuzz(func(t *testing.T, name, schedule, tz, next, staleAfter string) {
		h := tasks.Header{}
		h.Set(HeaderPeriodic, name)
		h.Set(HeaderPeriodicSchedule, schedule)
		h.Set(HeaderPeriodicTimeZone, tz)
		h.Set(HeaderScheduleNext, next)
		h.Set(HeaderPeriodicStaleAfter, staleAfter)
		_ = periodicDeadline(h)
		_, tick, ok := periodicTick(h)
		if !ok {
			return
		}
		announced, err := time.Parse(time.RFC3339Nano, next)
		if err != nil {
			t.Fatalf("ok with a Nats-Schedule-Next that does not parse: %v", err)
		}
		if tick.After(announced) {
			t.Errorf("tick %v after the next firing %v", tick, announced)
		}
		if id := TaskID(h, "JETQ_TASKS", 7); id != PeriodicID(name, tick) {
			t.Errorf("ID %q, want %q", id, PeriodicID(name, tick))
		}
		// What `jetq periodic ls` shows as next, for a declaration a day old.
		sched, err := ParseSchedule(schedule, tz)
		if err != nil {
			t.Fatalf("ok with a schedule that does not parse: %v", err)
		}
		if n := sched.NextAfter(announced.Add(-24*time.Hour), announced); n.Before(announced) {
			t.Errorf("next firing %v before now %v", n, announced)
		}
	})
}
