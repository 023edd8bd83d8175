package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// TestQueueStats runs a worker with a task waiting out an hour's backoff, one
// blocked in its handler and one dead-lettered, next to delayed and
// unserved tasks, then kills the worker's connection.
func TestQueueStats(t *testing.T) {
	ctx := context.Background()
	srv, p, in := setupQueues(t)
	if rows, err := in.Queues(ctx); err != nil || len(rows) != 0 {
		t.Fatalf("Queues on an empty server: %v %v", rows, err)
	}

	retrying := tasks.Define[int]("job.retry", tasks.WithMaxAttempts(3))
	blocking := tasks.Define[int]("job.block")
	dead := tasks.Define[int]("job.dead")
	later := tasks.Define[int]("job.later")
	idle := tasks.Define[int]("job.idle")
	release, started := make(chan struct{}), make(chan struct{}, 1)
	t.Cleanup(func() { close(release) })
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, retrying, func(context.Context, *tasks.Task[int]) error {
		return tasks.RetryAfter(time.Hour, errors.New("not yet"))
	})
	tasks.MustHandle(reg, blocking, func(ctx context.Context, _ *tasks.Task[int]) error {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	})
	tasks.MustHandle(reg, dead, func(context.Context, *tasks.Task[int]) error {
		return tasks.Permanent(errors.New("never"))
	})

	w := jetqtest.StartWorker(t, srv, reg, consumer.WithPresenceInterval(200*time.Millisecond))

	for _, def := range []*tasks.Definition[int]{retrying, blocking, dead} {
		if _, err := producer.Enqueue(ctx, p, def, 1); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := producer.Enqueue(ctx, p, later, 1, producer.WithDelay(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := producer.Enqueue(ctx, p, idle, 1); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the blocking handler did not start")
	}

	byTask := func() (map[string]inspect.QueueStats, error) {
		rows, err := in.Queues(ctx)
		if err != nil {
			return nil, err
		}
		m := map[string]inspect.QueueStats{}
		for _, r := range rows {
			m[r.Task] = r
		}
		return m, nil
	}
	var rows map[string]inspect.QueueStats
	testkit.WaitFor(t, 10*time.Second, func() error {
		var err error
		if rows, err = byTask(); err != nil {
			return err
		}
		r, b := rows["job.retry"], rows["job.block"]
		switch {
		case r.WaitingToRetry != 1 || r.Running != 0 || r.Workers != 1 || r.NextAttemptAt.IsZero():
			return fmt.Errorf("job.retry: %+v", r)
		case b.Running != 1 || b.WaitingToRetry != 0 || b.Workers != 1:
			return fmt.Errorf("job.block: %+v", b)
		case rows["job.dead"].DeadLettered != 1:
			return fmt.Errorf("job.dead: %+v", rows["job.dead"])
		}
		return nil
	})
	if r := rows["job.retry"]; r.InFlight != 1 || r.NextAttemptAt.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("job.retry: want in flight 1, next attempt in about an hour: %+v", r)
	}
	if l := rows["job.later"]; l.Scheduled != 2 || l.Pending != 0 || l.Consumers != 0 {
		t.Errorf("job.later: want 2 scheduled: %+v", l)
	}
	if i := rows["job.idle"]; i.Pending != 2 || i.Consumers != 0 || i.OldestPendingAge <= 0 || i.OldestPendingAge > time.Minute {
		t.Errorf("job.idle: want 2 pending, the oldest for a moment: %+v", i)
	}
	if len(rows) != 5 {
		t.Errorf("want 5 task types, got %v", rows)
	}
	got, err := in.Queue(ctx, "default", "job.block")
	if err != nil || got != rows["job.block"] {
		t.Errorf("Queue job.block: %+v %v, Queues had %+v", got, err, rows["job.block"])
	}
	if got, err := in.Queue(ctx, "default", "job.none"); err != nil || got != (inspect.QueueStats{Queue: "default", Task: "job.none"}) {
		t.Errorf("Queue of an unknown task: %+v %v", got, err)
	}
	if _, err := in.Queue(ctx, "default", "Bad Name"); !errors.Is(err, inspect.ErrInvalidQuery) {
		t.Errorf("Queue of a bad name: %v, want ErrInvalidQuery", err)
	}

	// The worker's process is gone: its deliveries wait out their ack wait,
	// and nothing runs.
	w.Kill()
	testkit.WaitFor(t, 10*time.Second, func() error {
		if rows, err = byTask(); err != nil {
			return err
		}
		r, b := rows["job.retry"], rows["job.block"]
		switch {
		case b.Running != 0 || b.WaitingToRetry != 1 || b.Workers != 0:
			return fmt.Errorf("job.block: %+v", b)
		case r.Running != 0 || r.WaitingToRetry != 1 || r.Workers != 0 || !r.NextAttemptAt.IsZero():
			return fmt.Errorf("job.retry: %+v", r)
		}
		return nil
	})
}

func TestNewRefusesBadOptions(t *testing.T) {
	if _, err := inspect.New(nil); !errors.Is(err, inspect.ErrInvalidOption) {
		t.Errorf("nil js: %v", err)
	}
	js := embeddedtest.JetStream(t)
	if _, err := inspect.New(js, inspect.WithTopology(topology.Topology{Prefix: "Bad Prefix"})); !errors.Is(err, inspect.ErrInvalidOption) {
		t.Errorf("bad prefix: %v", err)
	}
}

// TestRunningCountsHandlersOnly keeps a worker of concurrency 2 busy with
// more tasks than it runs: Running is its 2 handlers, and what it holds
// in its prefetch is Held, apart. (A worker that holds nothing beyond its
// handlers has Held 0; Running is 2 all the same.)
func TestRunningCountsHandlersOnly(t *testing.T) {
	ctx := context.Background()
	srv, p, in := setupQueues(t)
	slow := tasks.Define[int]("job.slow")
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, slow, func(ctx context.Context, _ *tasks.Task[int]) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	})
	for i := range 8 {
		if _, err := producer.Enqueue(ctx, p, slow, i); err != nil {
			t.Fatal(err)
		}
	}
	runWorker(t, srv, reg, consumer.WithConcurrency(2), consumer.WithPrefetch(2), consumer.WithPresenceInterval(200*time.Millisecond))
	t.Cleanup(func() { close(release) }) // before the worker's stop
	testkit.WaitFor(t, 10*time.Second, func() error {
		s, err := in.Queue(ctx, "default", "job.slow")
		switch {
		case err != nil:
			return err
		case s.Running != 2 || s.Held != s.InFlight-2 || s.WaitingToRetry != 0 || s.Workers != 1:
			return fmt.Errorf("want 2 running, the rest of what the worker holds held: %+v", s)
		}
		t.Logf("running %d, held %d", s.Running, s.Held)
		return nil
	})
}

// TestWaitingToRetryOutlivesStalePresence settles tasks between two writes
// of the worker's presence entry while another task waits out an hour's
// backoff: the read of that moment has a current NumAckPending of 1 and an
// entry that still says the worker holds 4. The task waiting to retry must
// not turn into a running one: a gauge read every half second showed 0 in
// 4 of 20 samples this way.
func TestWaitingToRetryOutlivesStalePresence(t *testing.T) {
	ctx := context.Background()
	srv, p, in := setupQueues(t)
	mixed := tasks.Define[int]("job.mixed", tasks.WithMaxAttempts(3))
	release, started := make(chan struct{}), make(chan struct{}, 4)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, mixed, func(ctx context.Context, tk *tasks.Task[int]) error {
		if tk.Payload == 0 {
			return tasks.RetryAfter(time.Hour, errors.New("not yet"))
		}
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	})
	// A long interval: the test does all it needs between two writes.
	const every = 5 * time.Second
	runWorker(t, srv, reg, consumer.WithConcurrency(4), consumer.WithPresenceInterval(every))
	if _, err := producer.Enqueue(ctx, p, mixed, 0); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		if _, err := producer.Enqueue(ctx, p, mixed, i); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the blocking handlers did not start")
		}
	}
	// Wait for the entry that says the worker holds the 4 and set the retry.
	var seen time.Time
	testkit.WaitFor(t, 3*every, func() error {
		ws, err := in.Workers(ctx)
		if err != nil {
			return err
		}
		if len(ws) != 1 || len(ws[0].Tasks) != 1 || ws[0].Tasks[0].InFlight != 4 || ws[0].Tasks[0].NextRetryAt.IsZero() {
			return fmt.Errorf("want one worker holding 4 with a retry set: %+v", ws)
		}
		seen = ws[0].LastSeen
		return nil
	})
	close(release)
	var s inspect.QueueStats
	testkit.WaitFor(t, every, func() error {
		var err error
		if s, err = in.Queue(ctx, "default", "job.mixed"); err != nil {
			return err
		}
		if s.InFlight != 1 {
			return fmt.Errorf("want the 4 settled and 1 in flight: %+v", s)
		}
		return nil
	})
	ws, err := in.Workers(ctx)
	if err != nil || len(ws) != 1 || !ws[0].LastSeen.Equal(seen) {
		t.Fatalf("the worker rewrote its entry before the read, which tells nothing then (a machine that slow needs a longer interval): %+v %v", ws, err)
	}
	if s.WaitingToRetry != 1 || s.Running != 0 || s.Held != 0 || s.NextAttemptAt.IsZero() {
		t.Errorf("with the entry one write old: want 1 waiting to retry, none running or held: %+v", s)
	}
}
