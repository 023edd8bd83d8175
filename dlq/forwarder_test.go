package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/topology"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/forwarder"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

func TestForwarderFilesTasksOfDeadWorkers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("dlq.crashy", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(2))
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 7})
	if err != nil {
		t.Fatal(err)
	}
	b.dieOnEveryAttempt(t, def)
	if n := jetqtest.Msgs(t, b.js, "JETQ_TASKS"); n != 1 {
		t.Fatalf("work stream holds %d tasks before the forwarder runs, want the 1 the server gave up on", n)
	}
	if n := jetqtest.Msgs(t, b.js, "JETQ_DLQ"); n != 0 {
		t.Fatalf("dead-letter records before the forwarder runs: %d, want 0", n)
	}

	f := b.runForwarder(t)
	e := b.waitRecords(t, 1)[0]
	if e.Reason != tasks.ReasonMaxDeliveries || e.ID != r.ID || e.Deliveries != 2 || e.StreamSeq != r.Sequence ||
		e.Task != "dlq.crashy" || e.Queue != "default" || string(e.Payload) != `{"n":7}` || e.Stream != "JETQ_TASKS" {
		t.Errorf("record %+v", e)
	}
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	b.forwarded(t)
	if n := jetqtest.Msgs(t, b.js, "JETQ_DLQ"); n != 1 {
		t.Errorf("dead-letter records once every event is settled: %d, want 1", n)
	}
	if err := f.stop(); err != nil {
		t.Errorf("Run after its ctx ended: %v, want nil", err)
	}
}

func TestForwarderKilledBetweenPublishAndDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Job]("dlq.crash-twice", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(1))
	if _, err := producer.Enqueue(context.Background(), b.p, def, Job{}); err != nil {
		t.Fatal(err)
	}
	b.dieOnEveryAttempt(t, def)

	// The first forwarder dies right after filing the record. A short ack
	// wait brings its unsettled event back to the next one soon.
	crashy := b.runForwarder(t, dlq.WithHooks(forwarder.Hooks{AfterPublish: func() error { return forwarder.ErrCrash }}, time.Second))
	select {
	case <-crashy.done:
		if !errors.Is(crashy.err, forwarder.ErrCrash) {
			t.Fatalf("first forwarder: %v", crashy.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first forwarder never reached its crash point")
	}
	if n := jetqtest.Msgs(t, b.js, "JETQ_TASKS"); n != 1 {
		t.Fatalf("work stream after the crash: %d tasks, want 1 (never deleted)", n)
	}
	b.waitRecords(t, 1)

	// A new forwarder gets the unsettled advisory and redoes every step.
	var published atomic.Int32
	b.runForwarder(t, dlq.WithHooks(forwarder.Hooks{AfterPublish: func() error { published.Add(1); return nil }}, time.Second))
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	b.forwarded(t)
	if published.Load() == 0 {
		t.Error("the second forwarder never filed: it did not redo the step")
	}
	if n := jetqtest.Msgs(t, b.js, "JETQ_DLQ"); n != 1 {
		t.Errorf("records: %d, want 1", n)
	}
}

// crashAfterFiling is a dead-letter middleware that kills the worker
// (closes its connection) right after its dead-letter record is stored and
// before the Term that would delete the task.
func crashAfterFiling(nc *nats.Conn) tasks.EnqueueMiddleware {
	return func(publish tasks.Enqueuer) tasks.Enqueuer {
		return func(ctx context.Context, batch []*tasks.Envelope) []error {
			errs := publish(ctx, batch)
			nc.Close()
			return errs
		}
	}
}

// fileThenDie runs a worker of def whose handler fails for good, and which
// dies (its connection closed) right after the task's record is stored and
// before the Term that would delete the task. It returns once it is dead.
func (b *bundle) fileThenDie(t *testing.T, def *tasks.Definition[Job]) {
	t.Helper()
	nc, js := embeddedtest.Connect(t, b.srv)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[Job]) error {
		return tasks.Permanent(errors.New("card expired"))
	})
	w, err := consumer.New(js, reg, consumer.WithLogger(testkit.Logger(t)), consumer.WithDeadLetterMiddleware(crashAfterFiling(nc)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); !errors.Is(err, consumer.ErrConnectionClosed) {
		t.Fatalf("crashed worker's Run: %v", err)
	}
}

// TestWorkerAndForwarderNeverFileOneTaskTwice lets a worker file a task's
// record and die before its Term. The task stays in the work stream, the
// server gives up on it, and the forwarder files it again under the same
// Nats-Msg-Id: the dead-letter stream keeps the worker's record only.
func TestWorkerAndForwarderNeverFileOneTaskTwice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("dlq.both-paths", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(1))
	r, err := producer.Enqueue(ctx, b.p, def, Job{})
	if err != nil {
		t.Fatal(err)
	}
	b.fileThenDie(t, def)
	b.waitRecords(t, 1)
	if n := jetqtest.Msgs(t, b.js, "JETQ_TASKS"); n != 1 {
		t.Fatalf("work stream after the crash: %d tasks, want 1 (never terminated)", n)
	}
	b.waitAdvisories(t, 1)

	b.runForwarder(t)
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	b.forwarded(t)
	entries := b.waitRecords(t, 1)
	if e := entries[0]; e.Reason != tasks.ReasonPermanent || e.ID != r.ID || e.StreamSeq != r.Sequence {
		t.Errorf("the record kept is %+v, want the worker's", e)
	}
}

// TestForwarderSettlesOddEvents feeds the forwarder events it must settle
// at once without filing anything, next to a terminated task's event.
func TestForwarderSettlesOddEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// A task its worker dead-lettered and terminated: a record, a
	// MSG_TERMINATED event, and no task left.
	filed := tasks.Define[Job]("dlq.filed", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(3))
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, filed, func(context.Context, *tasks.Task[Job]) error { return tasks.Permanent(errors.New("no")) })
	jetqtest.StartWorker(t, b.srv, reg)
	r, err := producer.Enqueue(ctx, b.p, filed, Job{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	b.waitRecords(t, 1)
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	// A task no worker serves: alive, and it must stay so.
	live, err := producer.Enqueue(ctx, b.p, tasks.Define[Job]("dlq.live", tasks.WithAckWait(time.Second)), Job{N: 2})
	if err != nil {
		t.Fatal(err)
	}

	const subject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JETQ_TASKS.default:dlq:filed"
	advisory := func(stream string, seq uint64, at time.Time) []byte {
		data, err := json.Marshal(map[string]any{
			"type": "io.nats.jetstream.advisory.v1.max_deliver", "id": "x", "timestamp": at,
			"stream": stream, "consumer": "default:dlq:filed", "stream_seq": seq, "deliveries": 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for name, data := range map[string][]byte{
		"not JSON": []byte("{{{"),
		// What a server before 2.14.1 sends again after a restart, and
		// what the server sends when a worker filed, terminated and was
		// late: its task is filed and gone already.
		"refired": advisory("JETQ_TASKS", r.Sequence, time.Now()),
		// Advice about the sequence of a message stored well after it:
		// the work stream was recreated since, and this is another task.
		"stale":          advisory("JETQ_TASKS", live.Sequence, time.Now().Add(-time.Hour)),
		"other stream":   advisory("OTHER", live.Sequence, time.Now()),
		"no stream seq":  advisory("JETQ_TASKS", 0, time.Now()),
		"unknown type":   []byte(`{"type":"io.nats.jetstream.advisory.v1.something","stream":"JETQ_TASKS","stream_seq":1}`),
		"missing fields": []byte(`{}`),
	} {
		if _, err := b.js.Publish(ctx, subject, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	b.runForwarder(t)
	info := b.forwarded(t)
	if events := jetqtest.Msgs(t, b.js, "JETQ_EVENTS"); info.Delivered.Consumer != events {
		t.Errorf("deliveries of %d events: %d; some event was not settled the first time", events, info.Delivered.Consumer)
	}
	if n := jetqtest.Msgs(t, b.js, "JETQ_DLQ"); n != 1 {
		t.Errorf("records: %d, want the worker's 1", n)
	}
	if n := jetqtest.Msgs(t, b.js, "JETQ_TASKS"); n != 1 {
		t.Errorf("work stream: %d tasks, want the live one", n)
	}
}

func TestForwarderRecreatesItsConsumer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.runForwarder(t)
	var first string
	waitFor(t, func() error {
		c, err := b.js.Consumer(ctx, "JETQ_EVENTS", forwarder.Durable)
		if err != nil {
			return err
		}
		first = c.CachedInfo().Created.String()
		return nil
	})
	if err := b.js.DeleteConsumer(ctx, "JETQ_EVENTS", forwarder.Durable); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		c, err := b.js.Consumer(ctx, "JETQ_EVENTS", forwarder.Durable)
		if err != nil {
			return err
		}
		if c.CachedInfo().Created.String() == first {
			return errors.New("the consumer was not deleted")
		}
		return nil
	})

	def := tasks.Define[Job]("dlq.after-recovery", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(1))
	if _, err := producer.Enqueue(ctx, b.p, def, Job{}); err != nil {
		t.Fatal(err)
	}
	b.dieOnEveryAttempt(t, def)
	if e := b.waitRecords(t, 1)[0]; e.Reason != tasks.ReasonMaxDeliveries {
		t.Errorf("record %+v", e)
	}
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
}

func TestForwarderEndsWithItsConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	nc, js := embeddedtest.Connect(t, b.srv)
	f, err := dlq.NewForwarder(js, dlq.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(context.Background()) }()
	waitFor(t, func() error {
		_, err := b.js.Consumer(context.Background(), "JETQ_EVENTS", forwarder.Durable)
		return err
	})
	nc.Close()
	select {
	case err := <-done:
		if !errors.Is(err, nats.ErrConnectionClosed) {
			t.Errorf("Run: %v, want nats.ErrConnectionClosed", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its connection closed")
	}
}

func TestWorkerWithForwarderFilesMaxDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Job]("dlq.worker-forwards", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(1))
	if _, err := producer.Enqueue(context.Background(), b.p, def, Job{}); err != nil {
		t.Fatal(err)
	}
	b.dieOnEveryAttempt(t, def)
	// A worker of another task type, running the forwarder.
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, tasks.Define[Job]("dlq.other", tasks.WithAckWait(time.Second)), func(context.Context, *tasks.Task[Job]) error { return nil })
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithForwarder())
	if e := b.waitRecords(t, 1)[0]; e.Reason != tasks.ReasonMaxDeliveries || e.Task != "dlq.worker-forwards" {
		t.Errorf("record %+v", e)
	}
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
}

func TestNewForwarderRefusesBadOptions(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	for name, opts := range map[string][]dlq.Option{
		"prefix":   {dlq.WithTopology(topology.Topology{Prefix: "Not A Prefix"})},
		"replicas": {dlq.WithTopology(topology.Topology{Replicas: 7})},
	} {
		if _, err := dlq.NewForwarder(js, opts...); !errors.Is(err, dlq.ErrInvalidOption) {
			t.Errorf("%s: NewForwarder: %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := dlq.NewForwarder(nil); !errors.Is(err, dlq.ErrInvalidOption) {
		t.Errorf("NewForwarder(nil): %v", err)
	}
}

// TestForwardersShareTheWork lets a raw consumer take tasks and never
// answer, then runs three forwarders at once on the advisories.
func TestForwardersShareTheWork(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("dlq.unanswered", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(1))
	const n = 6
	for i := range n {
		if _, err := producer.Enqueue(ctx, b.p, def, Job{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	// The task type's durable, as a worker would create it, with a 1 s ack
	// wait; its deliveries are fetched and never acknowledged.
	cons, err := b.js.CreateOrUpdateConsumer(ctx, "JETQ_TASKS", wire.ConsumerConfig(topology.Topology{}, def.Spec()))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second), jetstream.FetchPriorityGroup(wire.PriorityGroup))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for range batch.Messages() {
		got++
	}
	if got != n {
		t.Fatalf("fetched %d tasks, want %d", got, n)
	}
	b.waitAdvisories(t, n)

	for range 3 {
		b.runForwarder(t)
	}
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	b.forwarded(t)
	entries := b.waitRecords(t, n)
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Reason != tasks.ReasonMaxDeliveries || seen[string(e.Payload)] {
			t.Errorf("record %+v", e)
		}
		seen[string(e.Payload)] = true
	}
}
