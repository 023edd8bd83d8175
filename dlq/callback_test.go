package dlq_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestForwarderRunsTheFailureCallback kills the worker on every delivery
// of a task with a failure callback: the forwarder dead-letters it and
// enqueues the callback, with the failure, before it deletes the task.
func TestForwarderRunsTheFailureCallback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("dlq.crashy.cb", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(2))
	failed := tasks.Define[tasks.Failure]("dlq.crashy.failed")
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 8}, producer.OnFailure(failed))
	if err != nil {
		t.Fatal(err)
	}
	b.dieOnEveryAttempt(t, def)

	type run struct {
		id, parent string
		f          tasks.Failure
	}
	runs := make(chan run, 10)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, failed, func(ctx context.Context, tk *tasks.Task[tasks.Failure]) error {
		runs <- run{tk.ID, tk.Header.Get(tasks.HeaderParent), tk.Payload}
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	b.runForwarder(t)
	var got run
	select {
	case got = <-runs:
	case <-time.After(30 * time.Second):
		t.Fatal("no failure callback within 30s")
	}
	f := got.f
	if f.ID != r.ID || f.Task != "dlq.crashy.cb" || f.Queue != "default" || f.State != "dead_lettered" ||
		f.Reason != tasks.ReasonMaxDeliveries || f.Attempts != 2 || f.Error == "" {
		t.Errorf("failure %+v", f)
	}
	if want := wire.CallbackID(r.ID, wire.CallbackFailure, r.Sequence); got.id != want || got.parent != r.ID {
		t.Errorf("callback ID %q parent %q, want %q and %q", got.id, got.parent, want, r.ID)
	}
	b.waitRecords(t, 1)
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	b.forwarded(t)
	if len(runs) != 0 {
		t.Errorf("the failure callback ran %d more times, want once", len(runs))
	}
}

// TestFailureCallbackOfATaskFiledBeforeItsWorkerDied lets a worker file a
// task's record and die before the task's follow-ups and its Term: the
// next worker finds the record, enqueues the failure callback with the
// reason the record gives, and removes the task without running it.
func TestFailureCallbackOfATaskFiledBeforeItsWorkerDied(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("dlq.filed.cb", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(2))
	failed := tasks.Define[tasks.Failure]("dlq.filed.failed")
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 9}, producer.OnFailure(failed))
	if err != nil {
		t.Fatal(err)
	}
	b.fileThenDie(t, def)
	b.waitRecords(t, 1)
	if n := jetqtest.Msgs(t, b.js, "JETQ_TASKS"); n != 1 {
		t.Fatalf("work stream after the crash: %d messages, want the task alone (no callback yet)", n)
	}

	runs := make(chan tasks.Failure, 10)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[Job]) error {
		t.Error("the task ran again although its record is filed")
		return nil
	})
	tasks.MustHandle(reg, failed, func(ctx context.Context, tk *tasks.Task[tasks.Failure]) error {
		runs <- tk.Payload
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	select {
	case f := <-runs:
		if f.ID != r.ID || f.Reason != tasks.ReasonPermanent || f.Error != "permanent: card expired" ||
			f.State != "dead_lettered" || f.Attempts != 1 {
			t.Errorf("failure %+v", f)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no failure callback within 30s")
	}
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	if len(runs) != 0 {
		t.Errorf("the failure callback ran %d more times, want once", len(runs))
	}
}

// TestReplayedCallbackRuns dead-letters a callback and replays it from the
// dead-letter stream: the replay runs, although its ID was claimed by the
// message that failed.
func TestReplayedCallbackRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("dlq.replay.parent")
	notify := tasks.Define[struct{}]("dlq.replay.done")
	var failing atomic.Bool
	failing.Store(true)
	runs := make(chan string, 10)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[Job]) error { return nil })
	tasks.MustHandle(reg, notify, func(ctx context.Context, tk *tasks.Task[struct{}]) error {
		runs <- tk.ID
		if failing.Load() {
			return tasks.Permanent(errors.New("webhook refused"))
		}
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	if _, err := producer.Enqueue(ctx, b.p, def, Job{N: 1}, producer.OnSuccess(notify)); err != nil {
		t.Fatal(err)
	}
	first := <-runs
	e := b.waitRecords(t, 1)[0]
	failing.Store(false)
	if err := b.in.ReplayDeadLetter(ctx, e.Seq); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-runs:
		if id != first {
			t.Errorf("replay ran as %q, want the callback's ID %q", id, first)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the replayed callback did not run within 30s")
	}
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
}
