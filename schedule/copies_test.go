package schedule_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// TestASecondCopyOfAFiredTaskDoesNotRun: after a leader change the work
// stream's sourcing can store a fired task a second time, without the
// Nats-Msg-Id that would let the stream drop it (issue 24; the e2e test
// TestScheduledTasksRunOnceAcrossKilledAndFrozenLeaders shows it on real
// processes, in some runs). A single server does not make one on demand;
// here the server fires the task's schedule, as stored, a second time. The copy is dropped unrun; a redelivery of the
// first copy after a failed attempt runs; and the same ID enqueued again
// later, a new task, runs again.
func TestASecondCopyOfAFiredTaskDoesNotRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	const window = time.Second
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)), producer.WithTopology(topology.Topology{DedupWindow: window}))
	if err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[int]("fired.copy", tasks.WithMaxAttempts(5),
		tasks.WithBackoff(tasks.Backoff{Initial: 100 * time.Millisecond, Max: 100 * time.Millisecond}))
	var mu sync.Mutex
	var attempts []int // of the runs of task "d1"
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[int]) error {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, tk.Attempt)
		if len(attempts) == 1 {
			return errors.New("first attempt fails")
		}
		return nil
	})
	ran := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), attempts...)
	}

	if _, err := producer.Enqueue(ctx, p, def, 1, producer.WithID("d1"), producer.WithDelay(time.Second)); err != nil {
		t.Fatal(err)
	}
	schedules, err := js.Stream(ctx, "JETQ_SCHEDULES")
	if err != nil {
		t.Fatal(err)
	}
	schedule, err := schedules.GetLastMsgForSubject(ctx, "jetq.sched.at."+base64.RawURLEncoding.EncodeToString([]byte("d1")))
	if err != nil {
		t.Fatal(err)
	}
	work, err := js.Stream(ctx, "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	stored := func(n uint64) func() error {
		return func() error {
			info, err := work.Info(ctx)
			if err != nil {
				return err
			}
			if info.State.Msgs != n {
				return fmt.Errorf("work stream holds %d messages, want %d", info.State.Msgs, n)
			}
			return nil
		}
	}
	testkit.WaitFor(t, 10*time.Second, stored(1))
	// The schedule again, as stored, due now: the server fires the same
	// task a second time.
	again := &nats.Msg{Subject: schedule.Subject, Header: schedule.Header, Data: schedule.Data}
	again.Header.Del("Nats-Msg-Id")
	again.Header.Set("Nats-Schedule", "@at "+time.Now().UTC().Format(time.RFC3339Nano))
	if _, err := js.PublishMsg(ctx, again); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, stored(2))
	for seq := range uint64(2) {
		m, err := work.GetMsg(ctx, seq+1)
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get("Nats-Scheduler") == "" || m.Header.Get("Jetq-Id") != "d1" {
			t.Fatalf("work stream message %d has headers %v, want a fired task d1", seq+1, m.Header)
		}
	}

	jetqtest.StartWorkerOn(t, js, reg, consumer.WithConcurrency(4))
	testkit.WaitFor(t, 10*time.Second, func() error {
		info, err := work.Info(ctx)
		switch {
		case err != nil:
			return err
		case info.State.Msgs > 0:
			return fmt.Errorf("work stream holds %d messages", info.State.Msgs)
		case len(ran()) < 2:
			return fmt.Errorf("task ran %d times, want a failed attempt and a retry", len(ran()))
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond) // room for a third run to show
	if got := ran(); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("task d1 ran as attempts %v, want [1 2]: the retry of the first copy, and not the second copy", got)
	}

	// The same ID, enqueued again once the dedup window has passed, is a new
	// task and runs.
	time.Sleep(window + 100*time.Millisecond)
	r, err := producer.Enqueue(ctx, p, def, 2, producer.WithID("d1"), producer.WithDelay(100*time.Millisecond))
	if err != nil || r.Duplicate {
		t.Fatalf("enqueue d1 again: duplicate %v, err %v; want a new task", r.Duplicate, err)
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		if n := len(ran()); n < 3 {
			return fmt.Errorf("task d1 ran %d times, want 3", n)
		}
		return nil
	})
}
