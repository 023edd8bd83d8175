package consumer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// callbackRun is one run of a callback's handler.
type callbackRun[T any] struct {
	id, parent string
	payload    T
}

// callbackRecorder returns a handler that sends its runs to the channel.
func callbackRecorder[T any]() (tasks.HandlerFunc[T], chan callbackRun[T]) {
	ch := make(chan callbackRun[T], 100)
	return func(ctx context.Context, tk *tasks.Task[T]) error {
		ch <- callbackRun[T]{id: tk.ID, parent: tk.Header.Get(tasks.HeaderParent), payload: tk.Payload}
		return nil
	}, ch
}

// startAnnounced starts a worker of reg and waits until it has announced
// itself (its presence written): a worker stopped sooner may leave the
// creation of the presence bucket to the server while the test's server
// stops, which leaks the stream's goroutines.
func startAnnounced(t *testing.T, b *bundle, reg *tasks.Registry) {
	t.Helper()
	jetqtest.StartWorker(t, b.srv, reg)
	waitAnnounced(t, b.js, 1)
}

// waitAnnounced waits until n workers have announced themselves.
func waitAnnounced(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 60*time.Second, func() error {
		ws, err := in.Workers(context.Background())
		if err == nil && len(ws) < n {
			err = fmt.Errorf("%d of %d workers announced", len(ws), n)
		}
		return err
	})
}

func nextRun[T any](t *testing.T, ch chan callbackRun[T]) callbackRun[T] {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no callback ran within 30s")
		return callbackRun[T]{}
	}
}

func TestOnSuccessOfATaskWithoutResult(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	parent := tasks.Define[Args]("cb.plain")
	notify := tasks.Define[struct{}]("cb.plain.done", tasks.WithQueue("notices"))
	failed := tasks.Define[tasks.Failure]("cb.plain.failed")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, parent, func(ctx context.Context, tk *tasks.Task[Args]) error { return nil })
	onDone, done := callbackRecorder[struct{}]()
	tasks.MustHandle(reg, notify, onDone)
	onFailed, fails := callbackRecorder[tasks.Failure]()
	tasks.MustHandle(reg, failed, onFailed)
	startAnnounced(t, b, reg)

	r, err := producer.Enqueue(ctx, b.p, parent, Args{N: 1}, producer.OnSuccess(notify), producer.OnFailure(failed))
	if err != nil {
		t.Fatal(err)
	}
	run := nextRun(t, done)
	if want := wire.CallbackID(r.ID, wire.CallbackSuccess, r.Sequence); run.id != want || run.parent != r.ID {
		t.Errorf("callback ID %q parent %q, want %q and %q", run.id, run.parent, want, r.ID)
	}
	workEmpty(t, b.js)
	if len(fails) != 0 || len(done) != 0 {
		t.Errorf("%d more success and %d failure callbacks, want none", len(done), len(fails))
	}
}

func TestOnFailureAfterTheLastAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	parent := tasks.Define[Args]("cb.failing", tasks.WithMaxAttempts(2),
		tasks.WithBackoff(tasks.Backoff{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond}))
	notify := tasks.Define[struct{}]("cb.failing.done")
	failed := tasks.Define[tasks.Failure]("cb.failing.failed")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, parent, func(ctx context.Context, tk *tasks.Task[Args]) error {
		return fmt.Errorf("attempt %d: card declined", tk.Attempt)
	})
	onDone, done := callbackRecorder[struct{}]()
	tasks.MustHandle(reg, notify, onDone)
	onFailed, fails := callbackRecorder[tasks.Failure]()
	tasks.MustHandle(reg, failed, onFailed)
	startAnnounced(t, b, reg)

	before := time.Now()
	r, err := producer.Enqueue(ctx, b.p, parent, Args{N: 2}, producer.OnSuccess(notify), producer.OnFailure(failed))
	if err != nil {
		t.Fatal(err)
	}
	run := nextRun(t, fails)
	f := run.payload
	if f.ID != r.ID || f.Task != "cb.failing" || f.Queue != "default" || f.State != "dead_lettered" ||
		f.Reason != tasks.ReasonMaxAttempts || f.Error != "attempt 2: card declined" || f.Attempts != 2 || f.At.Before(before) {
		t.Errorf("failure %+v", f)
	}
	if want := wire.CallbackID(r.ID, wire.CallbackFailure, r.Sequence); run.id != want || run.parent != r.ID {
		t.Errorf("callback ID %q parent %q, want %q and %q", run.id, run.parent, want, r.ID)
	}
	workEmpty(t, b.js)
	dlqRecords(t, b.js, 1)
	if len(fails) != 0 || len(done) != 0 {
		t.Errorf("%d more failure and %d success callbacks, want none", len(fails), len(done))
	}
}

func TestOnFailureOfAnExpiredTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	parent := tasks.Define[Args]("cb.late")
	failed := tasks.Define[tasks.Failure]("cb.late.failed")
	deadline := time.Now().Add(200 * time.Millisecond)
	r, err := producer.Enqueue(ctx, b.p, parent, Args{N: 3}, producer.WithDeadline(deadline), producer.OnFailure(failed))
	if err != nil {
		t.Fatal(err)
	}
	// No worker takes it before its deadline.
	testkit.WaitFor(t, 10*time.Second, func() error {
		if time.Now().Before(deadline) {
			return errors.New("deadline not passed yet")
		}
		return nil
	})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, parent, func(ctx context.Context, tk *tasks.Task[Args]) error {
		t.Error("the expired task ran")
		return nil
	})
	onFailed, fails := callbackRecorder[tasks.Failure]()
	tasks.MustHandle(reg, failed, onFailed)
	startAnnounced(t, b, reg)
	f := nextRun(t, fails).payload
	if f.ID != r.ID || f.State != "expired" || f.Attempts != 0 {
		t.Errorf("failure %+v, want task %s expired after 0 attempts", f, r.ID)
	}
}

// TestCallbackCopyAfterTheDedupWindowRunsOnce stores a callback twice, as
// a worker that enqueued it and died would have it stored again if the
// task's redelivery came after the work stream's deduplication window (a
// long ack wait, or no worker of the type for a while): both messages carry
// the callback's ID under different Nats-Msg-Ids, as the server then
// sees them. The callback runs once; the copy is terminated unrun.
func TestCallbackCopyAfterTheDedupWindowRunsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	notify := tasks.Define[struct{}]("cb.copied")
	if err := b.p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	id := wire.CallbackID("parent-1", wire.CallbackSuccess, 7)
	for i := range 2 {
		msg := nats.NewMsg("jetq.task.default.cb.copied")
		msg.Header.Set(wire.HeaderMsgID, fmt.Sprintf("%s#%d", id, i))
		msg.Header.Set(wire.HeaderID, id)
		msg.Header.Set(wire.HeaderCallback, wire.CallbackSuccess)
		msg.Header.Set(tasks.HeaderParent, "parent-1")
		msg.Data = []byte("{}")
		if _, err := b.js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	reg := tasks.NewRegistry()
	onDone, done := callbackRecorder[struct{}]()
	tasks.MustHandle(reg, notify, onDone)
	startAnnounced(t, b, reg)
	if run := nextRun(t, done); run.id != id {
		t.Errorf("callback %q ran, want %q", run.id, id)
	}
	workEmpty(t, b.js)
	if len(done) != 0 {
		t.Errorf("the callback ran %d more times, want once", len(done))
	}
}

// The task of the crash test and its callback, known to the worker process
// the test starts.
var (
	crashParent = tasks.Define[Args]("cb.crash", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(5))
	crashNotify = tasks.Define[struct{}]("cb.crash.done")
)

// crashWorkerURL, in the environment, makes the test binary the worker of
// TestCallbackEnqueuedOnceWhenTheWorkerDiesBeforeTheAck (see TestMain).
const crashWorkerURL = "JETQ_TEST_CALLBACK_CRASH_URL"

// crashWorker runs crashParent's handler on the server at url and kills
// its own process (SIGKILL) once a task's follow-ups have run, before its
// ack: the point between the handler's return and the acknowledgement.
// The hook is the only way to stop there: a real worker cannot be made to
// die between two of its own statements on demand.
func crashWorker(url string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	nc, err := nats.Connect(url)
	if err != nil {
		log.Error("connect", "error", err)
		return 1
	}
	js, err := jetstream.New(nc)
	if err != nil {
		log.Error("jetstream", "error", err)
		return 1
	}
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, crashParent, func(ctx context.Context, tk *tasks.Task[Args]) error { return nil })
	consumer.SetAfterFollow(func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) })
	w, err := consumer.New(js, reg, consumer.WithLogger(log))
	if err != nil {
		log.Error("worker", "error", err)
		return 1
	}
	if err := w.Run(context.Background()); err != nil {
		log.Error("run", "error", err)
	}
	return 1 // the kill never came
}

// TestCallbackEnqueuedOnceWhenTheWorkerDiesBeforeTheAck runs a task with a
// success callback on a worker in another process that is SIGKILLed after
// it enqueued the callback and before it acknowledged the task. The task is
// delivered again, to this process's worker, which runs it and enqueues
// the callback again: the work stream drops that as a duplicate, so the
// callback is stored once and runs once.
func TestCallbackEnqueuedOnceWhenTheWorkerDiesBeforeTheAck(t *testing.T) {
	t.Parallel()
	srv := embeddedtest.Server(t, embedded.WithListen("127.0.0.1:0"))
	_, js := embeddedtest.Connect(t, srv)
	p := jetqtest.NewProducer(t, js)
	ctx := context.Background()
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashWorkerURL+"="+srv.ClientURL())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// The task goes out once the worker process is up, its presence
	// written: the kill then leaves none of its start-up requests (streams,
	// buckets) for the server to finish while this test's server stops.
	waitAnnounced(t, js, 1)
	r, err := producer.Enqueue(ctx, p, crashParent, Args{N: 4}, producer.OnSuccess(crashNotify))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-exited:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("the worker process did not die within 60s:\n%s", out.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("worker process ended with %v, want killed by SIGKILL at the hook:\n%s", err, out.String())
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 2 {
		t.Fatalf("work stream holds %d messages after the kill, want 2: the task, unacknowledged, and its callback", n)
	}

	reg := tasks.NewRegistry()
	attempts := make(chan int, 10)
	tasks.MustHandle(reg, crashParent, func(ctx context.Context, tk *tasks.Task[Args]) error {
		attempts <- tk.Attempt
		return nil
	})
	onDone, done := callbackRecorder[struct{}]()
	tasks.MustHandle(reg, crashNotify, onDone)
	jetqtest.StartWorker(t, srv, reg)
	select {
	case a := <-attempts:
		if a != 2 {
			t.Errorf("the task ran again as attempt %d, want 2", a)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the task was not delivered again")
	}
	if run := nextRun(t, done); run.parent != r.ID {
		t.Errorf("callback of %q, want %q", run.parent, r.ID)
	}
	workEmpty(t, js)
	if len(done) != 0 {
		t.Errorf("the callback ran %d more times, want once", len(done))
	}
	s, err := js.Stream(ctx, "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.LastSeq != 2 {
		t.Errorf("work stream stored %d messages, want 2: the task and one callback", info.State.LastSeq)
	}
}
