package dlq_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// final waits, at most 30 s, for the tracked task id to reach a final state.
func (b *bundle) final(t *testing.T, id string) status.Status {
	t.Helper()
	tr, err := inspect.New(b.js)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := tr.WaitStatus(ctx, id)
	if err != nil {
		t.Fatalf("Wait(%s): %v; last status %+v", id, err, st)
	}
	return st
}

// TestStatusOfATaskFiledByTheForwarder: the worker died on the task's last
// attempt, so its status said running; the forwarder's record settles it.
func TestStatusOfATaskFiledByTheForwarder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Job]("dlq.tracked-crash", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(1), tasks.WithStateTracking())
	r := enqueue(t, b, def, Job{N: 1})
	b.dieOnEveryAttempt(t, def)
	b.runForwarder(t)
	st := b.final(t, r)
	if st.State != status.DeadLettered || st.Reason != tasks.ReasonMaxDeliveries || st.Error == "" {
		t.Errorf("status %+v, want dead_lettered, max_deliveries, with the error", st)
	}
}

// TestStatusOfATaskAbandonedOnItsTimeout: the handler ignores its ctx past
// the timeout of its last attempt; the worker files it with reason timeout,
// and its status says so.
func TestStatusOfATaskAbandonedOnItsTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Job]("dlq.tracked-stuck", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(1), tasks.WithStateTracking(),
		tasks.WithTimeout(200*time.Millisecond))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Job]) error {
		<-release                                     // deaf to its ctx
		_ = tasks.ReportProgress(ctx, 90, "too late") // recorded nowhere: the attempt is settled
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	r := enqueue(t, b, def, Job{N: 2})
	st := b.final(t, r)
	if st.State != status.DeadLettered || st.Reason != tasks.ReasonTimeout {
		t.Errorf("status %+v, want dead_lettered with reason timeout", st)
	}
	if e := b.waitRecords(t, 1)[0]; e.Reason != tasks.ReasonTimeout {
		t.Errorf("record reason %q, want timeout", e.Reason)
	}
}

// TestStatusAfterReplayFollowsTheNewRun: a replayed task is queued again,
// and Wait then returns how the new run ended, not the old dead letter.
func TestStatusAfterReplayFollowsTheNewRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("dlq.tracked-replay", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(1), tasks.WithStateTracking())
	var fixed atomic.Bool
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Job]) error {
		if !fixed.Load() {
			return tasks.Permanent(errors.New("config missing"))
		}
		return nil
	})
	w := jetqtest.StartWorker(t, b.srv, reg)
	id := enqueue(t, b, def, Job{N: 3})
	if st := b.final(t, id); st.State != status.DeadLettered {
		t.Fatalf("status %+v, want dead_lettered", st)
	}
	e := b.waitRecords(t, 1)[0]
	if err := w.Stop(t); err != nil { // nobody runs the replayed task until the test has looked
		t.Errorf("worker's Run: %v", err)
	}

	fixed.Store(true)
	if err := b.in.ReplayDeadLetter(ctx, e.Seq); err != nil {
		t.Fatal(err)
	}
	tr, err := inspect.New(b.js)
	if err != nil {
		t.Fatal(err)
	}
	st, err := tr.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != status.Queued || st.Reason != "" || st.Error != "" || st.Attempt != 0 {
		t.Errorf("status right after the replay: %+v, want queued with no attempt, reason or error", st)
	}
	jetqtest.StartWorker(t, b.srv, reg)
	if st := b.final(t, id); st.State != status.Done || st.Attempt != 1 {
		t.Errorf("status after the replayed run: %+v, want done on attempt 1", st)
	}
}

func enqueue(t *testing.T, b *bundle, def *tasks.Definition[Job], j Job) string {
	t.Helper()
	r, err := producer.Enqueue(context.Background(), b.p, def, j)
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}
