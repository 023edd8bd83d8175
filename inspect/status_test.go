package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

type trackedJob struct {
	Fail int `json:"fail"` // attempts that fail before one succeeds; -1: fail permanently
}

var tracked = tasks.Define[trackedJob]("status.job", tasks.WithStateTracking(), tasks.WithMaxAttempts(3),
	tasks.WithBackoff(tasks.Backoff{Initial: 300 * time.Millisecond, Jitter: -1}))

var quiet = slog.New(slog.DiscardHandler)

func statusHandler(tr *inspect.Inspector, seen chan<- status.Status) tasks.HandlerFunc[trackedJob] {
	return func(ctx context.Context, t *tasks.Task[trackedJob]) error {
		_ = tasks.ReportProgress(ctx, 50, "half way")
		st, err := tr.Status(ctx, t.ID)
		if err == nil {
			seen <- st
		}
		switch {
		case t.Payload.Fail < 0:
			return tasks.Permanent(errors.New("cannot ever work"))
		case t.Attempt <= t.Payload.Fail:
			return errors.New("not yet")
		}
		return nil
	}
}

// startWorker runs a worker of def's tasks, handled by h, until the test
// ends or it is stopped.
func startWorker(t *testing.T, js jetstream.JetStream, def *tasks.Definition[trackedJob], h tasks.HandlerFunc[trackedJob]) *jetqtest.Worker {
	t.Helper()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, h)
	return jetqtest.StartWorkerOn(t, js, reg, consumer.WithLogger(quiet))
}

func TestStatusThroughRetryToDone(t *testing.T) {
	t.Parallel()
	f := setup(t)
	js, p, tr := f.js, f.p, f.in
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := producer.Enqueue(ctx, p, tracked, trackedJob{Fail: 1}, producer.WithID("job:1"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := tr.Status(ctx, r.ID)
	if err != nil || st.State != status.Queued || st.Attempt != 0 || st.Task != "status.job" || st.MaxAttempts != 3 {
		t.Fatalf("before any worker: %+v, %v", st, err)
	}
	seen := make(chan status.Status, 10)
	startWorker(t, js, tracked, statusHandler(tr, seen))

	first := <-seen
	if first.State != status.Running || first.Attempt != 1 || first.Progress == nil || first.Progress.Percent != 50 {
		t.Errorf("inside attempt 1: %+v", first)
	}
	// Between the attempts the task is retrying, with the time of the next.
	waitState(t, tr, r.ID, status.Retrying, func(st status.Status) {
		if st.Attempt != 1 || st.Error != "not yet" || st.NextAttemptAt.IsZero() || time.Until(st.NextAttemptAt) > time.Second {
			t.Errorf("retrying: %+v", st)
		}
	})
	final, err := tr.WaitStatus(ctx, r.ID)
	if err != nil || final.State != status.Done || final.Attempt != 2 {
		t.Errorf("final: %+v, %v", final, err)
	}
}

// waitState polls until the task is in state want and checks it.
func waitState(t *testing.T, tr *inspect.Inspector, id string, want status.State, check func(status.Status)) {
	t.Helper()
	var st status.Status
	testkit.WaitFor(t, 10*time.Second, func() error {
		var err error
		if st, err = tr.Status(context.Background(), id); err != nil {
			return err
		}
		if st.State != want {
			return fmt.Errorf("task %s never %s; last %+v", id, want, st)
		}
		return nil
	})
	check(st)
}

func TestStatusDeadLettered(t *testing.T) {
	t.Parallel()
	f := setup(t)
	js, p, tr := f.js, f.p, f.in
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	startWorker(t, js, tracked, statusHandler(tr, make(chan status.Status, 10)))
	r, err := producer.Enqueue(ctx, p, tracked, trackedJob{Fail: -1})
	if err != nil {
		t.Fatal(err)
	}
	st, err := tr.WaitStatus(ctx, r.ID)
	if err != nil || st.State != status.DeadLettered || st.Reason != tasks.ReasonPermanent || st.Error != "permanent: cannot ever work" {
		t.Errorf("got %+v, %v", st, err)
	}
}

func TestStatusSurvivesWorkerRestart(t *testing.T) {
	t.Parallel()
	f := setup(t)
	js, p, tr := f.js, f.p, f.in
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Its retry comes after the worker's stop, which waits up to a second
	// for the server to end its pulls and runs what they bring.
	def := tasks.Define[trackedJob]("status.restart", tasks.WithStateTracking(), tasks.WithMaxAttempts(3),
		tasks.WithBackoff(tasks.Backoff{Initial: 2 * time.Second, Jitter: -1}))
	r, err := producer.Enqueue(ctx, p, def, trackedJob{Fail: 1})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan status.Status, 10)
	w := startWorker(t, js, def, statusHandler(tr, seen))
	<-seen
	waitState(t, tr, r.ID, status.Retrying, func(status.Status) {})
	if err := w.Stop(t); err != nil {
		t.Fatal(err)
	}

	// A new worker (and a new inspector, as after a service restart).
	tr2, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := tr2.Status(ctx, r.ID); err != nil || st.State != status.Retrying {
		t.Fatalf("after the worker stopped: %+v, %v", st, err)
	}
	startWorker(t, js, def, statusHandler(tr2, seen))
	st, err := tr2.WaitStatus(ctx, r.ID)
	if err != nil || st.State != status.Done || st.Attempt != 2 {
		t.Errorf("after restart: %+v, %v", st, err)
	}
}

func TestUntrackedAndUnknownTasks(t *testing.T) {
	t.Parallel()
	f := setup(t)
	p, tr := f.p, f.in
	ctx := context.Background()
	r, err := producer.Enqueue(ctx, p, tasks.Define[trackedJob]("status.untracked"), trackedJob{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{r.ID, "no-such-task", "odd id: with.dots=and spaces"} {
		if _, err := tr.Status(ctx, id); !errors.Is(err, status.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
	}
	// Wait answers at once, well before the caller's deadline.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, id := range []string{r.ID, "no-such-task"} {
		start := time.Now()
		if _, err := tr.WaitStatus(wctx, id); !errors.Is(err, status.ErrNotFound) {
			t.Errorf("Wait(%q): %v, want ErrNotFound", id, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Wait(%q) took %v, want an answer at once", id, d)
		}
	}
}

func TestStatusWithoutBucketCreatesNone(t *testing.T) {
	t.Parallel()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	tr, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := tr.WaitStatus(ctx, "any"); !errors.Is(err, status.ErrNotFound) {
		t.Errorf("Wait without a status bucket: %v, want ErrNotFound", err)
	}
	if _, err := js.KeyValue(ctx, "JETQ_STATUS"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("Wait created the status bucket: %v", err)
	}
}

// TestWaitStatusRightAfterEnqueue: the producer records "queued" before Enqueue
// returns, so a Wait that starts before any worker does still waits.
func TestWaitStatusRightAfterEnqueue(t *testing.T) {
	t.Parallel()
	f := setup(t)
	js, p, tr := f.js, f.p, f.in
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := producer.Enqueue(ctx, p, tracked, trackedJob{})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		st  status.Status
		err error
	}
	got := make(chan result, 1)
	go func() {
		st, err := tr.WaitStatus(ctx, r.ID)
		got <- result{st, err}
	}()
	time.Sleep(100 * time.Millisecond) // Wait is watching, the task still queued
	startWorker(t, js, tracked, statusHandler(tr, make(chan status.Status, 10)))
	res := <-got
	if res.err != nil || res.st.State != status.Done {
		t.Errorf("Wait: %+v, %v", res.st, res.err)
	}
}
