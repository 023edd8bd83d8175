package consumer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// historyMsgs reads every message on subject of the history stream.
func historyMsgs(t *testing.T, js jetstream.JetStream, subject string) []jetstream.Msg {
	t.Helper()
	ctx := context.Background()
	c, err := js.OrderedConsumer(ctx, "JETQ_HISTORY", jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.FetchNoWait(10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out
}

// samples reads the workers' history samples and what they count.
func samples(t *testing.T, js jetstream.JetStream) (all []wire.HistorySample, started, succeeded uint64) {
	t.Helper()
	for _, m := range historyMsgs(t, js, "jetq.history.worker.*") {
		var s wire.HistorySample
		if err := json.Unmarshal(m.Data(), &s); err != nil {
			t.Fatal(err)
		}
		all = append(all, s)
		for _, tk := range s.Tasks {
			started += tk.Started
			succeeded += tk.Succeeded
		}
	}
	return all, started, succeeded
}

// TestHistoryCost runs a worker idle, then busy with 200 tasks: idle it
// writes no sample, busy at most one a step, and its samples count every
// task once.
func TestHistoryCost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("test.history.cost")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[Args]) error { return nil })
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithHistoryInterval(time.Second))
	testkit.WaitFor(t, 30*time.Second, func() error {
		if _, err := b.js.Stream(ctx, "JETQ_HISTORY"); err != nil {
			return err
		}
		if n := len(historyMsgs(t, b.js, "jetq.history.state")); n < 3 {
			return fmt.Errorf("%d states", n)
		}
		return nil
	})
	if idle := historyMsgs(t, b.js, "jetq.history.worker.*"); len(idle) != 0 {
		t.Fatalf("an idle worker wrote %d samples, want none", len(idle))
	}

	const n = 200
	if _, err := producer.EnqueueBatch(ctx, b.p, def, make([]Args, n)); err != nil {
		t.Fatal(err)
	}
	var all []wire.HistorySample
	testkit.WaitFor(t, 30*time.Second, func() error {
		var started, succeeded uint64
		all, started, succeeded = samples(t, b.js)
		if started != n || succeeded != n {
			return fmt.Errorf("samples count %d started and %d succeeded, want %d", started, succeeded, n)
		}
		return nil
	})
	steps := map[time.Time]bool{}
	for _, s := range all {
		if steps[s.At] {
			t.Errorf("two samples of the step ending %v", s.At)
		}
		steps[s.At] = true
	}
}

// TestHistoryIntervalOutOfRange refuses a step under a second or over a
// minute.
func TestHistoryIntervalOutOfRange(t *testing.T) {
	t.Parallel()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, tasks.Define[Args]("test.history.bad"), func(context.Context, *tasks.Task[Args]) error { return nil })
	js := setup(t).js
	for _, d := range []time.Duration{-time.Second, 0, 500 * time.Millisecond, 2 * time.Minute} {
		if _, err := consumer.New(js, reg, consumer.WithHistoryInterval(d)); !errors.Is(err, consumer.ErrInvalidOption) {
			t.Errorf("WithHistoryInterval(%v): %v, want ErrInvalidOption", d, err)
		}
	}
}

// TestHistoryFollowsTheWorkStream runs a worker asking for three replicas
// against streams someone made with one, in memory, on a single server:
// the history stream is made as the work stream is.
func TestHistoryFollowsTheWorkStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for _, cfg := range []jetstream.StreamConfig{
		{Name: "JETQ_TASKS", Subjects: []string{"jetq.task.>"}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.MemoryStorage},
		{Name: "JETQ_DLQ", Subjects: []string{"jetq.dlq.>"}, Storage: jetstream.MemoryStorage},
		{Name: "JETQ_EVENTS", Subjects: []string{"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JETQ_TASKS.>"}, Storage: jetstream.MemoryStorage},
	} {
		if _, err := b.js.CreateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, tasks.Define[Args]("test.history.replicas"), func(context.Context, *tasks.Task[Args]) error { return nil })
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithTopology(topology.Topology{Replicas: 3}), consumer.WithHistoryInterval(time.Second))
	testkit.WaitFor(t, 20*time.Second, func() error {
		s, err := b.js.Stream(ctx, "JETQ_HISTORY")
		if err != nil {
			return err
		}
		if cfg := s.CachedInfo().Config; cfg.Replicas != 1 || cfg.Storage != jetstream.MemoryStorage {
			t.Fatalf("history stream: %d replicas, %v; want the work stream's 1, memory", cfg.Replicas, cfg.Storage)
		}
		return nil
	})
}

// TestHistoryWrittenWhenRunReturns stops a worker a moment after its tasks
// ran, well before its step ends: by the time Run returns, its last sample
// counts them, so a process that exits then loses nothing.
func TestHistoryWrittenWhenRunReturns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("test.history.stop")
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return nil
	})
	w := jetqtest.StartWorker(t, b.srv, reg) // a step of a minute
	const n = 10
	if _, err := producer.EnqueueBatch(ctx, b.p, def, make([]Args, n)); err != nil {
		t.Fatal(err)
	}
	for range n {
		rec.next(t, 20*time.Second)
	}
	if err := w.Stop(t); err != nil {
		t.Fatal(err)
	}
	w.Conn().Close() // as the process exits
	_, started, succeeded := samples(t, b.js)
	if started != n || succeeded != n {
		t.Errorf("once Run returned, the samples count %d started and %d succeeded, want %d", started, succeeded, n)
	}
}
