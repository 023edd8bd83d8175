package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// killOnLastAttempt runs one worker of def, with concurrency n, for n tasks
// enqueued already: every attempt but the last fails,
// and once all n tasks are in their last attempt the worker dies (its
// connection is closed), so no ack, Nak or record ever comes. It returns
// when the worker is dead.
func (b *bundle) killOnLastAttempt(t *testing.T, def *tasks.Definition[Job], n int) {
	t.Helper()
	nc, js := embeddedtest.Connect(t, b.srv)
	last := def.Spec().MaxAttempts
	var inLast atomic.Int32
	dead := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Job]) error {
		if tk.Attempt < last {
			return tasks.RetryAfter(10*time.Millisecond, errors.New("not yet"))
		}
		if inLast.Add(1) == int32(n) {
			nc.Close() // the process dies
			close(dead)
		}
		<-ctx.Done()
		return ctx.Err()
	})
	w, err := consumer.New(js, reg, consumer.WithLogger(testkit.Logger(t)), consumer.WithConcurrency(n))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	select {
	case <-dead:
	case <-time.After(30 * time.Second):
		t.Fatalf("only %d of %d tasks reached their last attempt", inLast.Load(), n)
	}
	if err := <-done; !errors.Is(err, consumer.ErrConnectionClosed) {
		t.Fatalf("dead worker's Run: %v", err)
	}
}

// TestTasksOfAWorkerlessTypeAreFiled kills the only worker of a task type
// while 12 tasks are on their last attempt, and starts none again: the type
// is retired. Two forwarders still file every task, about an ack wait
// later, with no worker of the type pulling. The ack wait outlasts the dead
// worker's own pull requests (5 s), so none of them is left at the server
// to make it look.
func TestTasksOfAWorkerlessTypeAreFiled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const n, ackWait = 12, 9 * time.Second
	def := tasks.Define[Job]("dlq.retired", tasks.WithAckWait(ackWait), tasks.WithMaxAttempts(2))
	for i := range n {
		if _, err := producer.Enqueue(ctx, b.p, def, Job{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	b.runForwarder(t)
	b.runForwarder(t)
	b.killOnLastAttempt(t, def, n)
	died := time.Now()

	entries := b.waitRecords(t, n)
	t.Logf("%d tasks filed %v after their worker died (ack wait %v)", n, time.Since(died).Round(100*time.Millisecond), ackWait)
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	for _, e := range entries {
		if e.Reason != tasks.ReasonMaxDeliveries || e.Deliveries != 2 {
			t.Errorf("record: reason %q after %d deliveries, want max_deliveries after 2", e.Reason, e.Deliveries)
		}
	}
}

// TestRecreatedWorkStreamKeepsEveryRecord files records for the first tasks
// of a work stream, deletes the stream, and fails the first tasks of the new
// one, whose sequences are the same: on the worker's path and on the
// forwarder's. None is taken for a duplicate of the old records.
func TestRecreatedWorkStreamKeepsEveryRecord(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	doomed := tasks.Define[Job]("dlq.doomed", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(1))
	crashy := tasks.Define[Job]("dlq.crashy-again", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(1))
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, doomed, func(context.Context, *tasks.Task[Job]) error {
		return tasks.Permanent(errors.New("no such account"))
	})
	b.runForwarder(t)

	// The first life of the stream: seq 1 filed by a worker, seq 2 by the forwarder.
	round := func(life int) {
		t.Helper()
		r1, err := producer.Enqueue(ctx, b.p, doomed, Job{N: 10*life + 1})
		if err != nil {
			t.Fatal(err)
		}
		w := jetqtest.StartWorker(t, b.srv, reg)
		b.waitRecords(t, 2*life-1)
		if err := w.Stop(t); err != nil {
			t.Errorf("worker's Run: %v", err)
		}
		r2, err := producer.Enqueue(ctx, b.p, crashy, Job{N: 10*life + 2})
		if err != nil {
			t.Fatal(err)
		}
		if r1.Sequence != 1 || r2.Sequence != 2 {
			t.Fatalf("life %d: sequences %d and %d, want 1 and 2", life, r1.Sequence, r2.Sequence)
		}
		b.dieOnEveryAttempt(t, crashy)
		b.waitRecords(t, 2*life)
		jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	}
	round(1)
	if err := b.js.DeleteStream(ctx, "JETQ_TASKS"); err != nil {
		t.Fatal(err)
	}
	round(2)

	entries, err := b.in.DeadLetters(ctx, inspect.DeadLetterFilter{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range entries {
		got[fmt.Sprintf("%s %s", e.Reason, e.Payload)] = true
	}
	for _, want := range []string{`permanent {"n":11}`, `max_deliveries {"n":12}`, `permanent {"n":21}`, `max_deliveries {"n":22}`} {
		if !got[want] {
			t.Errorf("no record %s; have %v", want, got)
		}
	}
}

// TestDuplicateOfARemovedRecordIsFiledAgain lets a worker file a task's
// record and die before its Term; the record is deleted before the
// forwarder files the task again under the same ID. The dead-letter stream
// calls that a duplicate, but the record it remembers is gone: the
// forwarder files a new one rather than deleting the task with no record.
func TestDuplicateOfARemovedRecordIsFiledAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("dlq.deleted-record", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(1))
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 5})
	if err != nil {
		t.Fatal(err)
	}
	b.fileThenDie(t, def)
	first := b.waitRecords(t, 1)[0]
	if err := b.in.DeleteDeadLetter(ctx, first.Seq); err != nil {
		t.Fatal(err)
	}
	b.waitAdvisories(t, 1)

	b.runForwarder(t)
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	b.forwarded(t)
	e := b.waitRecords(t, 1)[0]
	if e.ID != r.ID || e.Reason != tasks.ReasonMaxDeliveries || e.Seq == first.Seq {
		t.Errorf("record %+v, want a new max_deliveries record of task %s", e, r.ID)
	}
}
