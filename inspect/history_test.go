package inspect_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

var (
	histOK   = tasks.Define[int]("hist.ok")
	histDead = tasks.Define[int]("hist.dead")
	histIdle = tasks.Define[int]("hist.idle") // no worker serves it
)

// historyStep is the test workers' history step.
const historyStep = time.Second

// startHistoryWorker runs a worker of hist.ok and hist.dead writing
// history every historyStep until the test ends.
func startHistoryWorker(t *testing.T, srv *embedded.Server) {
	t.Helper()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, histOK, func(context.Context, *tasks.Task[int]) error { return nil })
	tasks.MustHandle(reg, histDead, func(context.Context, *tasks.Task[int]) error {
		return tasks.Permanent(errors.New("never"))
	})
	runWorker(t, srv, reg, consumer.WithHistoryInterval(historyStep))
}

// newInspector is a server of the test's own and an Inspector of it.
func newInspector(t testing.TB) (jetstream.JetStream, *inspect.Inspector) {
	t.Helper()
	js := embeddedtest.JetStream(t)
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	return js, in
}

func enqueueN(t *testing.T, p *producer.Producer, def *tasks.Definition[int], n int) {
	t.Helper()
	for i := range n {
		if _, err := producer.Enqueue(context.Background(), p, def, i); err != nil {
			t.Fatal(err)
		}
	}
}

func sum(ps []inspect.Point, f func(inspect.Point) uint64) uint64 {
	var n uint64
	for _, p := range ps {
		n += f(p)
	}
	return n
}

// TestHistory runs tasks that succeed, tasks that are dead-lettered and
// tasks no worker serves, and reads them back from the history the worker
// wrote.
func TestHistory(t *testing.T) {
	t.Parallel()
	srv, p, in := setupQueues(t)
	ctx := context.Background()
	startHistoryWorker(t, srv)
	// A first state: what follows is counted from it.
	testkit.WaitFor(t, 30*time.Second, func() error {
		h, err := in.History(ctx, inspect.HistoryQuery{})
		if err != nil || len(h.Points) == 0 {
			return fmt.Errorf("no point yet: %v", err)
		}
		return nil
	})
	enqueueN(t, p, histOK, 20)
	enqueueN(t, p, histDead, 5)
	enqueueN(t, p, histIdle, 3)

	var (
		h   inspect.History
		err error
	)
	testkit.WaitFor(t, 30*time.Second, func() error {
		h, err = in.History(ctx, inspect.HistoryQuery{})
		if err != nil {
			return err
		}
		got := [3]uint64{
			sum(h.Points, func(p inspect.Point) uint64 { return p.Enqueued }),
			sum(h.Points, func(p inspect.Point) uint64 { return p.Succeeded }),
			sum(h.Points, func(p inspect.Point) uint64 { return p.DeadLettered }),
		}
		if want := [3]uint64{28, 20, 5}; got != want {
			return fmt.Errorf("enqueued, succeeded, dead-lettered: got %v, want %v", got, want)
		}
		return nil
	})
	if h.Step != historyStep || h.Window != time.Hour {
		t.Errorf("step %v window %v, want %v and an hour", h.Step, h.Window, historyStep)
	}
	types := map[string]inspect.TypeHistory{}
	for _, th := range h.Types {
		types[th.Task] = th
	}
	if ok := types["hist.ok"]; ok.Started != 20 || ok.WaitP50 <= 0 || ok.WaitP99 < ok.WaitP50 {
		t.Errorf("hist.ok: started %d, wait p50 %v p99 %v; want 20 started and waits", ok.Started, ok.WaitP50, ok.WaitP99)
	}
	if dead := types["hist.dead"]; sum(dead.Points, func(p inspect.Point) uint64 { return p.DeadLettered }) != 5 {
		t.Errorf("hist.dead: %+v, want 5 dead-lettered", dead.Points)
	}

	// The unserved tasks wait: the next states show them, ever older.
	testkit.WaitFor(t, 30*time.Second, func() error {
		h, err = in.History(ctx, inspect.HistoryQuery{Task: "hist.idle"})
		if err != nil {
			return err
		}
		if len(h.Types) != 1 || h.Types[0].Task != "hist.idle" {
			return fmt.Errorf("types %+v, want hist.idle alone", h.Types)
		}
		idle := h.Types[0]
		if n := sum(idle.Points, func(p inspect.Point) uint64 { return p.Enqueued }); n != 3 {
			return fmt.Errorf("hist.idle enqueued %d, want 3", n)
		}
		if last := h.Points[len(h.Points)-1]; last.OldestPendingAge < historyStep || idle.OldestPendingAge != last.OldestPendingAge {
			return fmt.Errorf("oldest pending age %v (type %v), want at least a step", last.OldestPendingAge, idle.OldestPendingAge)
		}
		return nil
	})
	if n := sum(h.Points, func(p inspect.Point) uint64 { return p.Succeeded }); n != 0 {
		t.Errorf("hist.idle's points count %d succeeded, want only hist.idle's", n)
	}
}

// TestHistoryEmpty reads a deployment whose workers wrote no history: no
// points, no error, and nothing created.
func TestHistoryEmpty(t *testing.T) {
	t.Parallel()
	js, in := newInspector(t)
	h, err := in.History(context.Background(), inspect.HistoryQuery{})
	if err != nil || len(h.Points) != 0 || len(h.Types) != 0 || h.Window != time.Hour {
		t.Fatalf("History: %+v %v, want an empty hour", h, err)
	}
	if _, err := js.Stream(context.Background(), "JETQ_HISTORY"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("History made the history stream: %v", err)
	}
}

// TestHistoryBadQuery gets an error that says what is wrong.
func TestHistoryBadQuery(t *testing.T) {
	t.Parallel()
	_, in := newInspector(t)
	for _, q := range []inspect.HistoryQuery{{Window: 2 * time.Hour}, {Window: -time.Minute}, {Task: "Bad Name"}, {Queue: "a.b"}} {
		if _, err := in.History(context.Background(), q); !errors.Is(err, inspect.ErrInvalidQuery) {
			t.Errorf("History(%+v): %v, want ErrInvalidQuery", q, err)
		}
	}
}

// TestHistoryOneStatePerStep runs two workers: each step's state is stored
// once, and samples written by a later release are left out.
func TestHistoryOneStatePerStep(t *testing.T) {
	t.Parallel()
	srv, _, in := setupQueues(t)
	_, js := embeddedtest.Connect(t, srv)
	ctx := context.Background()
	startHistoryWorker(t, srv)
	startHistoryWorker(t, srv)
	testkit.WaitFor(t, 30*time.Second, func() error {
		s, err := js.Stream(ctx, "JETQ_HISTORY")
		if err != nil {
			return err
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter("jetq.history.state"))
		if err != nil {
			return err
		}
		if n := info.State.Subjects["jetq.history.state"]; n < 4 {
			return fmt.Errorf("%d states", n)
		}
		return nil
	})
	// Unreadable samples, as a later release might write.
	for _, subj := range []string{"jetq.history.state", "jetq.history.worker.future"} {
		if _, err := js.Publish(ctx, subj, []byte(`{"at":"soon","tasks":7}`)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := js.OrderedConsumer(ctx, "JETQ_HISTORY", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"jetq.history.state"}})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := c.FetchNoWait(1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[time.Time]bool{}
	for m := range msgs.Messages() {
		var st struct{ At time.Time }
		if json.Unmarshal(m.Data(), &st) != nil {
			continue
		}
		if seen[st.At] {
			t.Errorf("two states of the step ending %v", st.At)
		}
		seen[st.At] = true
	}
	if h, err := in.History(ctx, inspect.HistoryQuery{}); err != nil || len(h.Points) < 4 {
		t.Errorf("History: %d points, %v; want the states'", len(h.Points), err)
	}
}
