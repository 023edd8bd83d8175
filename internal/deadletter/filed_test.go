package deadletter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/deadletter"
	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

func TestMain(m *testing.M) {
	testkit.VerifyNoLeaks(m)
}

// Filed finds a filed record by its identity, finds nothing before it is
// filed or once it is deleted, and stores nothing; on one server and on a
// replicated dead-letter stream.
func TestFiledFindsARecordByItsIdentity(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		replicas int
	}{{"single", 1}, {"cluster", 3}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var js jetstream.JetStream
			if tc.replicas == 1 {
				js = embeddedtest.JetStream(t)
			} else {
				c := embeddedtest.Cluster(t, 3)
				nc, err := c.Connect()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(nc.Close)
				if js, err = jetstream.New(nc); err != nil {
					t.Fatal(err)
				}
			}
			checkFiled(t, js, topology.Topology{Replicas: tc.replicas})
		})
	}
}

func checkFiled(t *testing.T, js jetstream.JetStream, topo topology.Topology) {
	ctx := context.Background()
	if _, err := provision.Ensure(ctx, js, topo, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	f := deadletter.New(js, topo, testkit.Logger(t))
	stored := time.Now()
	fail := wire.Failure{Reason: tasks.ReasonPermanent, Error: "declined", Stream: "JETQ_TASKS", Seq: 7,
		Subject: "jetq.task.default.x", StoredAt: stored, Deliveries: 1, At: time.Now()}
	id := wire.RecordID(fail.Stream, fail.Seq, fail.StoredAt)
	subject := wire.NamesOf(topo).DLQSubject("default", "x")
	records := func() uint64 {
		t.Helper()
		s, err := js.Stream(ctx, wire.NamesOf(topo).DLQStream())
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}

	if rec, err := f.Filed(ctx, subject, id, stored); err != nil || rec != nil {
		t.Fatalf("before filing: got %v, %v, want no record", rec, err)
	}
	h := nats.Header{wire.HeaderID: []string{"task-1"}}
	rec := f.Record(ctx, "default", "x", h, []byte(`{}`), fail)
	ack, err := f.File(ctx, rec, h, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Filed(ctx, subject, id, stored)
	if err != nil || got == nil {
		t.Fatalf("after filing: got %v, %v, want the record", got, err)
	}
	if got.Seq != ack.Sequence || got.Header.Get(wire.HeaderDLQReason) != "permanent" {
		t.Errorf("found record %d (reason %q), want %d (permanent)", got.Seq, got.Header.Get(wire.HeaderDLQReason), ack.Sequence)
	}
	if rec, err := f.Filed(ctx, subject, wire.RecordID(fail.Stream, fail.Seq, stored.Add(time.Nanosecond)), stored); err != nil || rec != nil {
		t.Errorf("another identity: got %v, %v, want no record", rec, err)
	}
	if n := records(); n != 1 {
		t.Errorf("records after look-ups: got %d, want 1", n)
	}
	s, err := js.Stream(ctx, wire.NamesOf(topo).DLQStream())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMsg(ctx, ack.Sequence); err != nil {
		t.Fatal(err)
	}
	if rec, err := f.Filed(ctx, subject, id, stored); err != nil || rec != nil {
		t.Errorf("after deleting: got %v, %v, want no record", rec, err)
	}
	if n := records(); n != 0 {
		t.Errorf("records after look-ups: got %d, want 0", n)
	}
}

// Filed pages through the records of the type filed since the task was
// stored, and gives up past filedMost of them with ErrTooManyRecords.
func TestFiledPagesAndStopsAtItsBound(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	ctx := context.Background()
	topo := topology.Topology{}
	if _, err := provision.Ensure(ctx, js, topo, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	f := deadletter.New(js, topo, testkit.Logger(t))
	subject := wire.NamesOf(topo).DLQSubject("default", "x")
	stored := time.Now()
	file := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			m := &nats.Msg{Subject: subject, Header: nats.Header{wire.HeaderMsgID: []string{wire.RecordID("JETQ_TASKS", uint64(i), stored)}}}
			if _, err := js.PublishMsgAsync(m); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(30 * time.Second):
			t.Fatal("records not stored within 30s")
		}
	}
	file(1, 301) // two pages
	if rec, err := f.Filed(ctx, subject, wire.RecordID("JETQ_TASKS", 300, stored), stored); err != nil || rec == nil || rec.Seq != 300 {
		t.Fatalf("record 300: got %v, %v", rec, err)
	}
	file(301, 1101)
	if _, err := f.Filed(ctx, subject, wire.RecordID("JETQ_TASKS", 5000, stored), stored); !errors.Is(err, deadletter.ErrTooManyRecords) {
		t.Errorf("past the bound: got %v, want ErrTooManyRecords", err)
	}
}

// BenchmarkFiled is what a redelivery pays for the look-up: with no record
// of the type, with 200 filed before the task was stored, and with 200
// filed since.
func BenchmarkFiled(b *testing.B) {
	for _, tc := range []struct {
		name          string
		before, since int
	}{{"none", 0, 0}, {"older=200", 200, 0}, {"since=200", 0, 200}} {
		b.Run(tc.name, func(b *testing.B) {
			js := embeddedtest.JetStream(b)
			ctx := context.Background()
			topo := topology.Topology{}
			if _, err := provision.Ensure(ctx, js, topo, testkit.Logger(b)); err != nil {
				b.Fatal(err)
			}
			f := deadletter.New(js, topo, testkit.Logger(b))
			subject := wire.NamesOf(topo).DLQSubject("default", "x")
			file := func(n int, stored time.Time) {
				for i := range n {
					m := &nats.Msg{Subject: subject, Data: make([]byte, 200),
						Header: nats.Header{wire.HeaderMsgID: []string{wire.RecordID("JETQ_TASKS", uint64(i), stored)}}}
					if _, err := js.PublishMsg(ctx, m); err != nil {
						b.Fatal(err)
					}
				}
			}
			stored := time.Now().Add(time.Hour) // the "before" records are older than it
			file(tc.before, time.Now())
			if tc.since > 0 {
				stored = time.Now()
				file(tc.since, stored)
			}
			id := wire.RecordID("JETQ_TASKS", 1<<40, stored)
			for b.Loop() {
				if rec, err := f.Filed(ctx, subject, id, stored); err != nil || rec != nil {
					b.Fatalf("got %v, %v", rec, err)
				}
			}
		})
	}
}
