package dlq_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Blob is the payload of the tasks whose records do not fit whole.
type Blob struct {
	Data string `json:"data"`
}

// seen is what a handler saw of one call.
type seen struct {
	attempt int
	big     string
	data    string
	replay  string
}

// TestRecordsThatDoNotFitAreFiledAndReplayedExactly dead-letters tasks whose
// records, whole, would pass the server's limits: headers near the 64 KiB
// header block, a body near max_payload, each with the longest error text.
// Each is filed once with its own reason, never run again because its
// record did not fit, and a replay brings back exactly what the handler
// first saw.
func TestRecordsThatDoNotFitAreFiledAndReplayedExactly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	nc, _ := embeddedtest.Connect(t, b.srv)
	maxPayload := int(nc.MaxPayload())
	cases := []struct {
		name    string
		header  string
		payload Blob
		reason  tasks.Reason
	}{
		{"headers near 64 KiB", strings.Repeat("h", 63*1024), Blob{"small"}, tasks.ReasonPermanent},
		{"body near max_payload", "", Blob{strings.Repeat("b", maxPayload-2048)}, tasks.ReasonPermanent},
		{"both, last attempt", strings.Repeat("h", 32*1024), Blob{strings.Repeat("b", maxPayload-34*1024)}, tasks.ReasonMaxAttempts},
	}
	def := tasks.Define[Blob]("dlq.oversized", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(2),
		tasks.WithBackoff(tasks.Backoff{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond}))
	var fixed atomic.Bool
	calls := make(chan seen, 100)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Blob]) error {
		calls <- seen{tk.Attempt, tk.Header.Get("X-Big"), tk.Payload.Data, tk.Header.Get("Jetq-Replay-Of")}
		switch {
		case fixed.Load():
			return nil
		case strings.HasPrefix(tk.Header.Get("X-Case"), "both"):
			return errors.New(strings.Repeat("e", 6000)) // retried, then dead-lettered
		}
		return tasks.Permanent(errors.New(strings.Repeat("e", 6000)))
	})
	jetqtest.StartWorker(t, b.srv, reg)

	ids := map[string]int{}
	for i, c := range cases {
		opts := []producer.EnqueueOption{producer.WithHeader("X-Case", c.name)}
		if c.header != "" {
			opts = append(opts, producer.WithHeader("X-Big", c.header))
		}
		r, err := producer.Enqueue(ctx, b.p, def, c.payload, opts...)
		if err != nil {
			t.Fatalf("%s: enqueue: %v", c.name, err)
		}
		ids[r.ID] = i
	}
	entries := b.waitRecords(t, len(cases))
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	// Permanent: one call; max_attempts: two. Never more for a record.
	if got, want := len(calls), 1+1+2; got != want {
		t.Errorf("handler calls before any replay: %d, want %d", got, want)
	}
	for len(calls) > 0 {
		<-calls
	}
	for _, e := range entries {
		i, ok := ids[e.ID]
		if !ok {
			t.Fatalf("record of unknown task %q", e.ID)
		}
		c := cases[i]
		if e.Reason != c.reason || !e.Truncated || !strings.Contains(e.Error, "eeee") {
			t.Errorf("%s: record reason %q truncated %v error %.20q…, want %q, truncated, the handler's error", c.name, e.Reason, e.Truncated, e.Error, c.reason)
		}
		full, err := b.in.DeadLetter(ctx, e.Seq)
		if err != nil {
			t.Fatalf("%s: Get: %v", c.name, err)
		}
		if full.Header.Get("X-Big") != c.header || string(full.Payload) != `{"data":"`+c.payload.Data+`"}` {
			t.Errorf("%s: Get does not restore the original: header %d bytes, payload %d bytes", c.name, len(full.Header.Get("X-Big")), len(full.Payload))
		}
	}

	fixed.Store(true)
	if n, err := b.in.ReplayDeadLetters(ctx, inspect.DeadLetterFilter{}); err != nil || n != len(cases) {
		t.Fatalf("ReplayAll: %d, %v", n, err)
	}
	for range cases {
		var s seen
		select {
		case s = <-calls:
		case <-time.After(20 * time.Second):
			t.Fatal("a replayed task never ran")
		}
		found := false
		for _, c := range cases {
			if s.big == c.header && s.data == c.payload.Data {
				found = true
			}
		}
		if !found || s.attempt != 1 || s.replay == "" {
			t.Errorf("replayed task: attempt %d, header %d bytes, payload %d bytes, replay-of %q: not the original", s.attempt, len(s.big), len(s.data), s.replay)
		}
	}
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	if n := jetqtest.Msgs(t, b.js, "JETQ_DLQ"); n != 0 {
		t.Errorf("records after the replays: %d, want 0", n)
	}
}

// TestRawMessageWithHugeHeadersIsFiled files the record of a poison
// message from a buggy producer, whose headers alone come near the limit.
func TestRawMessageWithHugeHeadersIsFiled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("dlq.poison-big", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(5))
	var calls atomic.Int32
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[Job]) error {
		calls.Add(1)
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	// The worker provisions the streams; then the raw message comes.
	waitFor(t, func() error { _, err := b.js.Stream(ctx, "JETQ_TASKS"); return err })
	msg := nats.NewMsg("jetq.task.default.dlq.poison-big")
	msg.Header.Set("X-Junk", strings.Repeat("j", 65535-200))
	msg.Data = []byte("not json")
	if _, err := b.js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	e := b.waitRecords(t, 1)[0]
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	if e.Reason != tasks.ReasonInvalidPayload || !e.Truncated || e.Task != "dlq.poison-big" {
		t.Errorf("record: reason %q truncated %v task %q, want invalid_payload, truncated, dlq.poison-big", e.Reason, e.Truncated, e.Task)
	}
	if calls.Load() != 0 {
		t.Errorf("handler ran %d times for a payload that does not decode", calls.Load())
	}
}

// TestFilingThatFailsIsTriedAgainNotRetried deletes the dead-letter stream
// before a task fails for good: the first filing finds no stream. The task
// still runs once, and its record comes with its own reason once the worker
// has made the stream again.
func TestFilingThatFailsIsTriedAgainNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("dlq.no-stream", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(3))
	var calls atomic.Int32
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[Job]) error {
		calls.Add(1)
		return tasks.Permanent(errors.New("card expired"))
	})
	jetqtest.StartWorker(t, b.srv, reg)
	// Once the worker consumes, the stream it made goes away under it.
	waitFor(t, func() error { _, err := b.js.Consumer(ctx, "JETQ_TASKS", "default:dlq:no-stream"); return err })
	if err := b.js.DeleteStream(ctx, "JETQ_DLQ"); err != nil {
		t.Fatal(err)
	}
	// Published as a producer would, but by one that provisions nothing.
	env := wire.NewEnvelope(wire.Names{}, def.Spec(), wire.NewID(), []byte(`{"n":1}`), time.Now())
	if _, err := b.js.PublishMsg(ctx, wire.Msg(env)); err != nil {
		t.Fatal(err)
	}
	e := b.waitRecords(t, 1)[0]
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	if e.Reason != tasks.ReasonPermanent || e.Error != "permanent: card expired" {
		t.Errorf("record: reason %q error %q, want permanent, card expired", e.Reason, e.Error)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("handler calls: %d, want 1", n)
	}
}

// TestFilingInTheBackgroundFreesTheSlot makes the dead-letter subjects go to
// a stream jetq does not read, so a task's record cannot be filed for a
// while. The worker, with a single slot, goes on with the next task
// meanwhile; once the stray stream is gone, the record is filed, with the
// task's own reason, and the task never ran again.
func TestFilingInTheBackgroundFreesTheSlot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	doomed := tasks.Define[Job]("dlq.cannot-file", tasks.WithAckWait(time.Second))
	fine := tasks.Define[Job]("dlq.fine", tasks.WithAckWait(time.Second))
	var doomedRuns atomic.Int32
	ran := make(chan struct{}, 1)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, doomed, func(context.Context, *tasks.Task[Job]) error {
		doomedRuns.Add(1)
		return tasks.Permanent(errors.New("card expired"))
	})
	tasks.MustHandle(reg, fine, func(context.Context, *tasks.Task[Job]) error {
		ran <- struct{}{}
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(1))
	next := func() {
		t.Helper()
		if _, err := producer.Enqueue(ctx, b.p, fine, Job{N: 2}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ran:
		case <-time.After(20 * time.Second):
			t.Fatal("the next task never ran while the record waited: the slot stayed taken")
		}
	}
	next() // the streams exist, and the producer knows them
	if err := b.js.DeleteStream(ctx, "JETQ_DLQ"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.js.CreateStream(ctx, jetstream.StreamConfig{Name: "STRAY", Subjects: []string{"jetq.dlq.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := producer.Enqueue(ctx, b.p, doomed, Job{N: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		if doomedRuns.Load() == 0 {
			return errors.New("the doomed task has not run")
		}
		return nil
	})
	next()
	if err := b.js.DeleteStream(ctx, "STRAY"); err != nil {
		t.Fatal(err)
	}
	e := b.waitRecords(t, 1)[0]
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	if e.Reason != tasks.ReasonPermanent || doomedRuns.Load() != 1 {
		t.Errorf("record reason %q after %d runs, want permanent after 1", e.Reason, doomedRuns.Load())
	}
}
