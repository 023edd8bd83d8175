package queues_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/queues"
	"github.com/jetq/jetq/tasks"
)

// TestStats runs a worker with a task waiting out an hour's backoff, one
// blocked in its handler and one dead-lettered, next to delayed and
// unserved tasks, then kills the worker's connection.
func TestStats(t *testing.T) {
	ctx := context.Background()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	in, err := queues.New(js)
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := in.List(ctx); err != nil || len(rows) != 0 {
		t.Fatalf("List on an empty server: %v %v", rows, err)
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

	wnc, wjs := embeddedtest.Connect(t, srv)
	w, err := consumer.New(wjs, reg, consumer.WithLogger(testkit.Logger(t)), consumer.WithPresenceInterval(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("worker did not stop")
		}
	})

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

	byTask := func() (map[string]queues.Stats, error) {
		rows, err := in.List(ctx)
		if err != nil {
			return nil, err
		}
		m := map[string]queues.Stats{}
		for _, r := range rows {
			m[r.Task] = r
		}
		return m, nil
	}
	var rows map[string]queues.Stats
	testkit.WaitFor(t, 10*time.Second, func() error {
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
	got, err := in.Get(ctx, "default", "job.block")
	if err != nil || got != rows["job.block"] {
		t.Errorf("Get job.block: %+v %v, List had %+v", got, err, rows["job.block"])
	}
	if got, err := in.Get(ctx, "default", "job.none"); err != nil || got != (queues.Stats{Queue: "default", Task: "job.none"}) {
		t.Errorf("Get of an unknown task: %+v %v", got, err)
	}
	if _, err := in.Get(ctx, "default", "Bad Name"); !errors.Is(err, queues.ErrInvalidOption) {
		t.Errorf("Get of a bad name: %v", err)
	}

	// The worker's process is gone: its deliveries wait out their ack wait,
	// and nothing runs.
	wnc.Close()
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
	if _, err := queues.New(nil); !errors.Is(err, queues.ErrInvalidOption) {
		t.Errorf("nil js: %v", err)
	}
	js := embeddedtest.JetStream(t)
	if _, err := queues.New(js, queues.WithPrefix("Bad Prefix")); !errors.Is(err, queues.ErrInvalidOption) {
		t.Errorf("bad prefix: %v", err)
	}
}
