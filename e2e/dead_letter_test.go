package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// Kind says what a scenario task does in its handler.
type Kind struct {
	Do   string `json:"do"` // ok, flaky, permanent, always
	Blob string `json:"blob,omitempty"`
}

// TestDeadLetterAccounting is scenario 4, the dead-letter paths together,
// every task type tracked:
//   - tasks that succeed, fail once, fail for good, and fail on every
//     attempt, some with headers near the 64 KiB limit or payloads near
//     max_payload, so their records are truncated;
//   - the work stream deleted and provisioned again between two rounds, so
//     the second round's sequences repeat the first's;
//   - a retired task type: its only worker dies while 12 of its tasks are on
//     their last attempt, and no worker of it starts again.
//
// At the end every task is acknowledged after success, or in the
// dead-letter stream with the reason its kind calls for, or still queued;
// and every tracked status is final or queued and agrees.
func TestDeadLetterAccounting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	nc, _ := embeddedtest.Connect(t, srv)
	maxPayload := int(nc.MaxPayload())

	mixed := tasks.Define[Kind]("acct.mixed", tasks.WithStateTracking(), tasks.WithMaxAttempts(3),
		tasks.WithBackoff(tasks.Backoff{Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond}))
	retired := tasks.Define[Kind]("acct.retired", tasks.WithStateTracking(), tasks.WithMaxAttempts(2),
		tasks.WithAckWait(3*time.Second))

	var mu sync.Mutex
	succeeded := map[string]int{}
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, mixed, func(ctx context.Context, tk *tasks.Task[Kind]) error {
		switch tk.Payload.Do {
		case "flaky":
			if tk.Attempt == 1 {
				return errors.New("not yet")
			}
		case "permanent":
			return tasks.Permanent(errors.New("cannot ever work: " + strings.Repeat("x", 5000)))
		case "always":
			return errors.New("still broken: " + strings.Repeat("y", 3000))
		}
		mu.Lock()
		succeeded[tk.ID]++
		mu.Unlock()
		return nil
	})
	worker := func() (stop func()) {
		_, wjs := embeddedtest.Connect(t, srv)
		w, err := consumer.New(wjs, reg, consumer.WithLogger(quiet), consumer.WithConcurrency(16))
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.Run(wctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker: %v", err)
			}
		}
	}
	for range 2 {
		_, fjs := embeddedtest.Connect(t, srv)
		runForwarder(t, fjs, dlq.WithLogger(quiet))
	}

	// want is the reason each task's record must give; "" for success.
	want := map[string]tasks.Reason{}
	bigHeader := producer.WithHeader("X-Big", strings.Repeat("h", 63*1024))
	enqueueRound := func() int {
		t.Helper()
		plan := []struct {
			n      int
			kind   Kind
			opts   []producer.EnqueueOption
			reason tasks.Reason
		}{
			{40, Kind{Do: "ok"}, nil, ""},
			{20, Kind{Do: "flaky"}, nil, ""},
			{20, Kind{Do: "permanent"}, nil, tasks.ReasonPermanent},
			{10, Kind{Do: "permanent"}, []producer.EnqueueOption{bigHeader}, tasks.ReasonPermanent},
			{5, Kind{Do: "always", Blob: strings.Repeat("b", maxPayload-2048)}, nil, tasks.ReasonMaxAttempts},
			{5, Kind{Do: "ok"}, []producer.EnqueueOption{bigHeader}, ""},
		}
		total := 0
		for _, step := range plan {
			for range step.n {
				r, err := producer.Enqueue(ctx, p, mixed, step.kind, step.opts...)
				if err != nil {
					t.Fatal(err)
				}
				want[r.ID] = step.reason
				total++
			}
		}
		return total
	}
	settled := func(records int) {
		t.Helper()
		testkit.WaitFor(t, 60*time.Second, func() error {
			if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 0 {
				return fmt.Errorf("work stream holds %d tasks", n)
			}
			if n := jetqtest.Msgs(t, js, "JETQ_DLQ"); n != uint64(records) {
				return fmt.Errorf("dead-letter stream holds %d records, want %d", n, records)
			}
			return nil
		})
	}

	// Round one, then the work stream goes and comes back empty.
	stop := worker()
	enqueueRound()
	settled(35)
	stop()
	if err := js.DeleteStream(ctx, "JETQ_TASKS"); err != nil {
		t.Fatal(err)
	}

	// Round two on the new stream, and the retired type's last stand.
	const doomed = 12
	for range doomed {
		r, err := producer.Enqueue(ctx, p, retired, Kind{Do: "ok"})
		if err != nil {
			t.Fatal(err)
		}
		want[r.ID] = tasks.ReasonMaxDeliveries
	}
	killRetiredWorker(t, srv.Connect, retired, doomed)
	defer worker()()
	enqueueRound()
	settled(35 + 35 + doomed)

	// The ledger.
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := in.DeadLetters(ctx, inspect.DeadLetterFilter{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]inspect.DeadLetter{}
	truncated := 0
	for _, e := range entries {
		if _, dup := records[e.ID]; dup {
			t.Errorf("task %s has two records", e.ID)
		}
		records[e.ID] = e
		if e.Truncated {
			truncated++
		}
	}
	tr, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	mu.Lock()
	defer mu.Unlock()
	for id, reason := range want {
		e, dead := records[id]
		st, err := tr.Status(ctx, id)
		if err != nil {
			t.Errorf("task %s: no status: %v", id, err)
			continue
		}
		counts[string(st.State)]++
		switch {
		case reason == "" && (succeeded[id] != 1 || dead || st.State != status.Done):
			t.Errorf("task %s: succeeded %d times, record %v, status %s; want once, none, done", id, succeeded[id], dead, st.State)
		case reason != "" && (!dead || e.Reason != reason || st.State != status.DeadLettered || st.Reason != reason):
			t.Errorf("task %s: record %v reason %q, status %s reason %q; want %s in both", id, dead, e.Reason, st.State, st.Reason, reason)
		case reason != "" && succeeded[id] != 0:
			t.Errorf("task %s: dead-lettered with %s but succeeded %d times", id, reason, succeeded[id])
		}
	}
	if got := len(entries); got != len(records) || got != 35+35+doomed {
		t.Errorf("records: %d for %d tasks, want %d", got, len(records), 35+35+doomed)
	}
	if truncated != 2*(10+5) {
		t.Errorf("truncated records: %d, want %d", truncated, 2*(10+5))
	}
	t.Logf("accounting: %d tasks: %d done, %d dead-lettered (%d truncated; %d by the forwarder), %d queued, %d other; %d records",
		len(want), counts[string(status.Done)], counts[string(status.DeadLettered)], truncated, doomed,
		counts[string(status.Queued)], len(want)-counts[string(status.Done)]-counts[string(status.DeadLettered)]-counts[string(status.Queued)],
		len(entries))
}

// killRetiredWorker runs the only worker def ever has, lets each of its n
// tasks fail once, and kills the worker (closes its connection) once all n
// are on their last attempt.
func killRetiredWorker(t *testing.T, connect func(...nats.Option) (*nats.Conn, error), def *tasks.Definition[Kind], n int) {
	t.Helper()
	nc, err := connect()
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var last atomic.Int32
	dead := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Kind]) error {
		if tk.Attempt < tk.MaxAttempts {
			return tasks.RetryAfter(10*time.Millisecond, errors.New("not yet"))
		}
		if last.Add(1) == int32(n) {
			nc.Close()
			close(dead)
		}
		<-ctx.Done()
		return ctx.Err()
	})
	w, err := consumer.New(js, reg, consumer.WithLogger(slog.New(slog.DiscardHandler)),
		consumer.WithConcurrency(n))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	select {
	case <-dead:
	case <-time.After(30 * time.Second):
		t.Fatalf("%d of %d tasks reached their last attempt", last.Load(), n)
	}
	if err := <-done; !errors.Is(err, consumer.ErrConnectionClosed) {
		t.Fatalf("killed worker: %v", err)
	}
}
