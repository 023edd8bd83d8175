package inspect_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// fileRecordFor files a record of the task with ID id, as its failure of
// the work-stream message at seq.
func fileRecordFor(t *testing.T, js jetstream.JetStream, name, id string, seq uint64) uint64 {
	t.Helper()
	names := wire.Names{}
	spec := tasks.Define[Job](name).Spec()
	body := []byte(`{"n":1}`)
	env := wire.NewEnvelope(names, spec, id, body, time.Now())
	rec := wire.DeadLetter(names, "default", name, nats.Header(env.Header), body, wire.Failure{
		Reason: tasks.ReasonPermanent, Error: "boom", Stream: "JETQ_TASKS", Seq: seq,
		Subject: env.Subject, Deliveries: 1, At: time.Now(),
	}, wire.Limits{})
	ack, err := js.PublishMsg(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

func TestFindDeadLetters(t *testing.T) {
	t.Parallel()
	js := newDLQ(t, true)
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if es, err := in.FindDeadLetters(ctx, "nothing", inspect.DeadLetterFilter{}); err != nil || len(es) != 0 || es == nil {
		t.Errorf("on an empty stream: %v, %v; want an empty slice", es, err)
	}
	first := fileRecordFor(t, js, "find.a", "twice", 10)
	fileRecordFor(t, js, "find.a", "other", 11)
	second := fileRecordFor(t, js, "find.b", "twice", 12)
	es, err := in.FindDeadLetters(ctx, "twice", inspect.DeadLetterFilter{})
	if err != nil || len(es) != 2 || es[0].Seq != first || es[1].Seq != second || es[0].ID != "twice" || es[1].Task != "find.b" {
		t.Fatalf("FindDeadLetters(twice): %+v, %v; want records %d and %d", es, err, first, second)
	}
	if es, err := in.FindDeadLetters(ctx, "twice", inspect.DeadLetterFilter{Task: "find.b"}); err != nil || len(es) != 1 || es[0].Seq != second {
		t.Errorf("FindDeadLetters(twice, find.b): %+v, %v", es, err)
	}
	if es, err := in.FindDeadLetters(ctx, "unknown", inspect.DeadLetterFilter{}); err != nil || len(es) != 0 {
		t.Errorf("FindDeadLetters(unknown): %+v, %v", es, err)
	}
	if _, err := in.FindDeadLetters(ctx, "", inspect.DeadLetterFilter{}); !errors.Is(err, inspect.ErrInvalidQuery) {
		t.Errorf("FindDeadLetters(\"\"): %v, want ErrInvalidQuery", err)
	}
	if _, err := in.FindDeadLetters(ctx, "twice", inspect.DeadLetterFilter{Task: "Bad Name"}); !errors.Is(err, inspect.ErrInvalidQuery) {
		t.Errorf("bad filter: %v, want ErrInvalidQuery", err)
	}
}

// TestFindDeadLettersAfterAFailedReplay: the replay's record replaces the
// replayed one, and names it.
func TestFindDeadLettersAfterAFailedReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("find.replayed", tasks.WithMaxAttempts(1))
	var fixed atomic.Bool
	reg := tasks.NewRegistry()
	fixable(reg, def, &fixed)
	b.runWorker(t, reg)
	if _, err := producer.Enqueue(ctx, b.p, def, Job{N: 1}, producer.WithID("find-1")); err != nil {
		t.Fatal(err)
	}
	e := b.waitRecords(t, 1)[0]
	if err := b.in.ReplayDeadLetter(ctx, e.Seq); err != nil {
		t.Fatal(err)
	}
	var es []inspect.DeadLetter
	waitFor(t, func() error {
		var err error
		es, err = b.in.FindDeadLetters(ctx, "find-1", inspect.DeadLetterFilter{})
		if err == nil && (len(es) != 1 || es[0].Seq == e.Seq) {
			err = errors.New("no new record yet")
		}
		return err
	})
	if got, want := es[0].Header.Get(wire.HeaderReplayOf), "JETQ_DLQ:"+strconv.FormatUint(e.Seq, 10); got != want {
		t.Errorf("the new record's %s: %q, want %q", wire.HeaderReplayOf, got, want)
	}
}
