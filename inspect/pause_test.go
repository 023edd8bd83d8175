package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// counted registers a handler of def on reg that counts its starts in n
// and sends the task's payload on done.
func counted(reg *tasks.Registry, def *tasks.Definition[int], n *atomic.Int64, done chan<- int) {
	tasks.MustHandle(reg, def, func(_ context.Context, t *tasks.Task[int]) error {
		n.Add(1)
		if done != nil {
			done <- t.Payload
		}
		return nil
	})
}

// stats is the row of queue/task.
func stats(t *testing.T, in *inspect.Inspector, queue, task string) inspect.QueueStats {
	t.Helper()
	rows, err := in.Queues(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Queue == queue && r.Task == task {
			return r
		}
	}
	t.Fatalf("no row of %s/%s in %+v", queue, task, rows)
	return inspect.QueueStats{}
}

// served waits until a worker has created the consumer of queue/task.
func served(t *testing.T, in *inspect.Inspector, queue, task string) {
	t.Helper()
	waitFor(t, func() error {
		rows, err := in.Queues(context.Background())
		if err != nil {
			return err
		}
		for _, r := range rows {
			if r.Queue == queue && r.Task == task && r.Consumers == 1 {
				return nil
			}
		}
		return fmt.Errorf("no consumer of %s/%s yet", queue, task)
	})
}

// enqueue enqueues tasks 1..n of def.
func enqueue(t *testing.T, p *producer.Producer, def *tasks.Definition[int], n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if _, err := producer.Enqueue(context.Background(), p, def, i); err != nil {
			t.Fatal(err)
		}
	}
}

// receive takes n values from ch, failing after 30 s.
func receive(t *testing.T, ch <-chan int, n int, what string) {
	t.Helper()
	for i := range n {
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: %d of %d came", what, i, n)
		}
	}
}

func TestPauseBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, p, in := setupQueues(t)
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[int]("pause.known")
	reg := tasks.NewRegistry()
	counted(reg, def, new(atomic.Int64), nil)
	runWorker(t, srv, reg)
	served(t, in, "default", "pause.known")

	for _, tc := range []struct {
		name  string
		scope inspect.Scope
		until time.Time
		want  error
	}{
		{"task without queue", inspect.Scope{Task: "pause.known"}, time.Time{}, inspect.ErrInvalidQuery},
		{"until in the past", inspect.Scope{Queue: "default"}, time.Now().Add(-time.Second), inspect.ErrInvalidQuery},
		{"invalid queue name", inspect.Scope{Queue: "Default!"}, time.Time{}, inspect.ErrInvalidQuery},
		{"unknown queue", inspect.Scope{Queue: "nowhere"}, time.Time{}, inspect.ErrNotFound},
		{"unknown task", inspect.Scope{Queue: "default", Task: "pause.unknown"}, time.Time{}, inspect.ErrNotFound},
		{"task of another queue", inspect.Scope{Queue: "other", Task: "pause.known"}, time.Time{}, inspect.ErrNotFound},
	} {
		err := in.Pause(ctx, tc.scope, tc.until)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Pause(%v) = %v, want %v", tc.name, tc.scope, err, tc.want)
		}
		t.Logf("%s: %v", tc.name, err)
	}
	for _, s := range []inspect.Scope{{Task: "pause.known"}, {Queue: "nowhere"}, {Queue: "default", Task: "pause.unknown"}} {
		if err := in.Resume(ctx, s); err == nil {
			t.Errorf("Resume(%v) = nil, want an error", s)
		}
	}
	if ps, err := in.Pauses(ctx); err != nil || len(ps) != 0 {
		t.Errorf("Pauses after bad input = %v, %v; want none", ps, err)
	}
	if r := stats(t, in, "default", "pause.known"); r.Paused {
		t.Errorf("after bad input the type is paused: %+v", r)
	}
}

// TestPausedTypeHoldsAcrossWorkerRestart pauses one of two task types a
// worker serves, restarts the worker, and resumes the type: no task of the
// paused type runs until the resume, the other type runs throughout, and
// every task runs once.
func TestPausedTypeHoldsAcrossWorkerRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, p, in := setupQueues(t)
	paused := tasks.Define[int]("pause.held")
	other := tasks.Define[int]("pause.other")
	var nPaused, nOther atomic.Int64
	pausedDone, otherDone := make(chan int, 100), make(chan int, 100)
	reg := tasks.NewRegistry()
	counted(reg, paused, &nPaused, pausedDone)
	counted(reg, other, &nOther, otherDone)

	w := jetqtest.StartWorker(t, srv, reg)
	enqueue(t, p, paused, 1)
	enqueue(t, p, other, 1)
	receive(t, pausedDone, 1, "paused type before the pause")
	receive(t, otherDone, 1, "other type before the pause")

	if err := in.Pause(ctx, inspect.Scope{Queue: "default", Task: "pause.held"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if r := stats(t, in, "default", "pause.held"); !r.Paused || !r.PausedUntil.IsZero() {
		t.Fatalf("after Pause: paused %v until %v, want paused until resumed", r.Paused, r.PausedUntil)
	}
	enqueue(t, p, paused, 20)
	enqueue(t, p, other, 20)
	receive(t, otherDone, 20, "other type while paused")
	if err := w.Stop(t); err != nil {
		t.Fatal(err)
	}
	// A new worker updates the durables: the pause holds.
	jetqtest.StartWorker(t, srv, reg)
	enqueue(t, p, other, 5)
	receive(t, otherDone, 5, "other type after the restart")
	r := stats(t, in, "default", "pause.held")
	if !r.Paused || r.Pending != 20 {
		t.Fatalf("after a restart: paused %v with %d pending, want paused with 20", r.Paused, r.Pending)
	}
	if n := nPaused.Load(); n != 1 {
		t.Fatalf("%d tasks of the paused type ran, want only the one before the pause", n)
	}

	start := time.Now()
	if err := in.Resume(ctx, inspect.Scope{Queue: "default", Task: "pause.held"}); err != nil {
		t.Fatal(err)
	}
	receive(t, pausedDone, 1, "paused type after the resume")
	t.Logf("first task ran %v after Resume was called", time.Since(start))
	receive(t, pausedDone, 19, "paused type after the resume")
	_, js := embeddedtest.Connect(t, srv)
	jetqtest.WaitEmpty(t, js, "JETQ_TASKS")
	if a, b := nPaused.Load(), nOther.Load(); a != 21 || b != 26 {
		t.Errorf("ran %d and %d tasks, want 21 and 26, each once", a, b)
	}
	if r := stats(t, in, "default", "pause.held"); r.Paused {
		t.Errorf("after Resume: %+v", r)
	}
}

// TestQueuePauseHoldsForATypeDeployedLater pauses a queue, then starts a
// worker with a task type of that queue no worker served before: its new
// consumer is created paused, and the queue's resume lets it run.
func TestQueuePauseHoldsForATypeDeployedLater(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, p, in := setupQueues(t)
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	first := tasks.Define[int]("deploy.first", tasks.WithQueue("bulk"))
	later := tasks.Define[int]("deploy.later", tasks.WithQueue("bulk"))
	marker := tasks.Define[int]("deploy.marker")
	var nLater atomic.Int64
	laterDone, markerDone := make(chan int, 100), make(chan int, 100)
	reg1 := tasks.NewRegistry()
	counted(reg1, first, new(atomic.Int64), nil)
	jetqtest.StartWorker(t, srv, reg1)
	served(t, in, "bulk", "deploy.first")
	if err := in.Pause(ctx, inspect.Scope{Queue: "bulk"}, time.Time{}); err != nil {
		t.Fatal(err)
	}

	enqueue(t, p, later, 10)
	if r := stats(t, in, "bulk", "deploy.later"); !r.Paused || r.Consumers != 0 {
		t.Fatalf("a type of the paused queue without a consumer: %+v, want paused", r)
	}
	reg2 := tasks.NewRegistry()
	counted(reg2, later, &nLater, laterDone)
	counted(reg2, marker, new(atomic.Int64), markerDone)
	jetqtest.StartWorker(t, srv, reg2)
	enqueue(t, p, marker, 3)
	receive(t, markerDone, 3, "a type of another queue")
	// The new worker pauses the type's consumer before its first pull, in
	// the type's own goroutine: wait for it, then check nothing ran.
	var r inspect.QueueStats
	testkit.WaitFor(t, 10*time.Second, func() error {
		if r = stats(t, in, "bulk", "deploy.later"); !r.Paused || r.Consumers != 1 {
			return fmt.Errorf("a type deployed into a paused queue: %+v, want its consumer paused", r)
		}
		return nil
	})
	if r.Pending != 10 || nLater.Load() != 0 {
		t.Fatalf("a type deployed into a paused queue: %+v, %d ran; want paused with 10 pending and none run", r, nLater.Load())
	}
	ps, err := in.Pauses(ctx)
	if err != nil || len(ps) != 1 || ps[0].Scope != (inspect.Scope{Queue: "bulk"}) {
		t.Fatalf("Pauses = %+v, %v; want the queue bulk's", ps, err)
	}

	if err := in.Resume(ctx, inspect.Scope{Queue: "bulk"}); err != nil {
		t.Fatal(err)
	}
	receive(t, laterDone, 10, "the type after its queue's resume")
	if ps, err := in.Pauses(ctx); err != nil || len(ps) != 0 {
		t.Errorf("Pauses after Resume = %+v, %v", ps, err)
	}
}

// TestPausesCombine pauses every queue, a queue and a type, and resumes
// them from the narrowest: a type stays paused while a wider pause holds.
func TestPausesCombine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, p, in := setupQueues(t)
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[int]("combine.one")
	reg := tasks.NewRegistry()
	counted(reg, def, new(atomic.Int64), nil)
	runWorker(t, srv, reg)
	served(t, in, "default", "combine.one")
	soon := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	later := soon.Add(time.Hour)
	steps := []struct {
		do        func() error
		paused    bool
		until     time.Time
		pauseKeys int
	}{
		{func() error { return in.Pause(ctx, inspect.Scope{}, soon) }, true, soon, 1},
		{func() error { return in.Pause(ctx, inspect.Scope{Queue: "default"}, time.Time{}) }, true, time.Time{}, 2},
		{func() error { return in.Pause(ctx, inspect.Scope{Queue: "default", Task: "combine.one"}, later) }, true, time.Time{}, 3},
		{func() error { return in.Resume(ctx, inspect.Scope{Queue: "default", Task: "combine.one"}) }, true, time.Time{}, 2},
		{func() error { return in.Pause(ctx, inspect.Scope{Queue: "default", Task: "combine.one"}, later) }, true, time.Time{}, 3},
		// Resuming the queue ends its types' pauses too; every queue's holds.
		{func() error { return in.Resume(ctx, inspect.Scope{Queue: "default"}) }, true, soon, 1},
		{func() error { return in.Resume(ctx, inspect.Scope{}) }, false, time.Time{}, 0},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		r := stats(t, in, "default", "combine.one")
		if r.Paused != s.paused || !r.PausedUntil.Equal(s.until) {
			t.Errorf("step %d: paused %v until %v, want %v until %v", i, r.Paused, r.PausedUntil, s.paused, s.until)
		}
		if ps, err := in.Pauses(ctx); err != nil || len(ps) != s.pauseKeys {
			t.Errorf("step %d: Pauses = %+v, %v; want %d", i, ps, err, s.pauseKeys)
		}
	}
}

// TestPauseUntilEnds pauses a type until a moment ahead: its tasks run
// once it has passed, with no resume.
func TestPauseUntilEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, p, in := setupQueues(t)
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[int]("until.ends")
	starts := make(chan time.Time, 10)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[int]) error {
		starts <- time.Now()
		return nil
	})
	runWorker(t, srv, reg)
	served(t, in, "default", "until.ends")
	until := time.Now().Add(2 * time.Second)
	if err := in.Pause(ctx, inspect.Scope{Queue: "default", Task: "until.ends"}, until); err != nil {
		t.Fatal(err)
	}
	enqueue(t, p, def, 5)
	for i := range 5 {
		select {
		case started := <-starts:
			if started.Before(until) {
				t.Fatalf("a task started %v before the pause ended", until.Sub(started))
			}
			if i == 0 {
				t.Logf("first task started %v after the pause ended", started.Sub(until))
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of 5 tasks ran after the pause ended", i)
		}
	}
}
