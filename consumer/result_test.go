package consumer_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestDoneTaskRedeliveredIsNotRunAgain makes a worker's acknowledgement
// fail for real after it wrote a result task's final record: the server
// refuses that worker's publishes to $JS.ACK.> (a permission), so the
// record is stored and the acknowledgement is lost, as when a process dies
// between the two. The task comes back to a second worker once the ack
// wait is over, which acknowledges it without running it again.
func TestDoneTaskRedeliveredIsNotRunAgain(t *testing.T) {
	t.Parallel()
	srv, js, p, in := deniedServer(t, "noack", `"$JS.ACK.>"`)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	def := tasks.DefineResult[Args, int]("test.result.once", tasks.WithAckWait(2*time.Second))
	var calls atomic.Int32
	handler := func(ctx context.Context, tk *tasks.Task[Args]) (int, error) {
		calls.Add(1)
		return tk.Payload.N * 3, nil
	}
	regA := tasks.NewRegistry()
	tasks.MustHandleResult(regA, def, handler)
	_, jsA := embeddedtest.Connect(t, srv, nats.UserInfo("noack", "noack"), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	a := jetqtest.StartWorkerOn(t, jsA, regA)

	r, err := producer.Enqueue(ctx, p, def, Args{N: 7})
	if err != nil {
		t.Fatal(err)
	}
	got, err := inspect.Result(ctx, in, def, r.ID)
	if err != nil || got != 21 {
		t.Fatalf("Result: got %d, %v; want 21", got, err)
	}
	if err := a.Stop(t); err != nil {
		t.Fatalf("first worker's Run: %v", err)
	}
	if err := workQueueEmpty(js); err == nil {
		t.Fatal("the work stream is empty: the first worker's acknowledgement went through, so nothing is tested")
	}

	regB := tasks.NewRegistry()
	tasks.MustHandleResult(regB, def, handler)
	jetqtest.StartWorkerOn(t, js, regB)
	workEmpty(t, js)
	if n := calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
	if got, err := inspect.Result(ctx, in, def, r.ID); err != nil || got != 21 {
		t.Errorf("Result after the redelivery: got %d, %v; want 21", got, err)
	}
}

// TestResultNotRecordedIsRedone makes the final record's write fail for
// real: the status bucket, made before the worker starts, refuses values
// over 64 bytes. The task is handed back, not acknowledged, and runs again
// until the bucket is fixed; then its result is kept.
func TestResultNotRecordedIsRedone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := b.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "JETQ_STATUS", History: 1, MaxValueSize: 64}); err != nil {
		t.Fatal(err)
	}
	def := tasks.DefineResult[Args, int]("test.result.redo")
	ran := make(chan int, 100)
	reg := tasks.NewRegistry()
	tasks.MustHandleResult(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) (int, error) {
		ran <- tk.Attempt
		return tk.Payload.N + 1, nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	r, err := producer.Enqueue(ctx, b.p, def, Args{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	<-ran
	if got := <-ran; got != 2 {
		t.Errorf("second run: attempt %d, want 2", got)
	}
	str, err := b.js.Stream(ctx, "KV_JETQ_STATUS")
	if err != nil {
		t.Fatal(err)
	}
	cfg := str.CachedInfo().Config
	cfg.MaxMsgSize = 64 << 10
	if _, err := b.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	in, err := inspect.New(b.js)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := inspect.Result(ctx, in, def, r.ID); err != nil || got != 2 {
		t.Errorf("Result: got %d, %v; want 2", got, err)
	}
	workEmpty(t, b.js)
}

// TestDoneTaskRedeliveredRunsItsFollowUps has the first worker write a
// result task's final record and then fail at everything after it, for
// real: the server refuses its publishes of the success callback and of
// acknowledgements (permissions). The second worker, given the
// redelivery, finds the task done: it runs the follow-ups the first could
// not — the callback gets the recorded result — and acknowledges the task
// without running its handler again.
func TestDoneTaskRedeliveredRunsItsFollowUps(t *testing.T) {
	t.Parallel()
	srv, js, p, in := deniedServer(t, "stuck", `["$JS.ACK.>", "jetq.task.default.test.result.notify"]`)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	def := tasks.DefineResult[Args, int]("test.result.follow", tasks.WithAckWait(2*time.Second))
	notify := tasks.Define[int]("test.result.notify")
	var calls atomic.Int32
	handler := func(ctx context.Context, tk *tasks.Task[Args]) (int, error) {
		calls.Add(1)
		return tk.Payload.N * 3, nil
	}
	regA := tasks.NewRegistry()
	tasks.MustHandleResult(regA, def, handler)
	_, jsA := embeddedtest.Connect(t, srv, nats.UserInfo("stuck", "stuck"), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	a := jetqtest.StartWorkerOn(t, jsA, regA, consumer.WithShutdownTimeout(time.Second))

	r, err := producer.Enqueue(ctx, p, def, Args{N: 7}, producer.OnSuccess(notify))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := inspect.Result(ctx, in, def, r.ID); err != nil || got != 21 {
		t.Fatalf("Result: got %d, %v; want 21", got, err)
	}
	if err := a.Stop(t); err != nil {
		t.Fatalf("first worker's Run: %v", err)
	}

	regB := tasks.NewRegistry()
	tasks.MustHandleResult(regB, def, handler)
	onDone, done := callbackRecorder[int]()
	tasks.MustHandle(regB, notify, onDone)
	jetqtest.StartWorkerOn(t, js, regB)
	run := nextRun(t, done)
	if run.payload != 21 || run.parent != r.ID {
		t.Errorf("callback got %d from %q, want 21 from %q", run.payload, run.parent, r.ID)
	}
	workEmpty(t, js)
	if n := calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
	if len(done) != 0 {
		t.Errorf("%d more callback runs, want none", len(done))
	}
}

// deniedServer starts a server with two users, "full" and user, whose
// publishes to the subjects deny (a config value: one quoted subject or a
// list) are refused: a real server losing a worker's acknowledgements or
// callbacks, which no crash can time as exactly. It returns the server and
// the full user's connection, producer and inspector.
func deniedServer(t *testing.T, user, deny string) (*embedded.Server, jetstream.JetStream, *producer.Producer, *inspect.Inspector) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "nats.conf")
	body := "listen: 127.0.0.1:-1\nauthorization { users: [\n" +
		"  { user: full, password: full }\n" +
		"  { user: " + user + ", password: " + user + ", permissions: { publish: { allow: \">\", deny: " + deny + " } } }\n" +
		"] }\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := embeddedtest.Server(t, embedded.WithConfigFile(conf))
	_, js := embeddedtest.Connect(t, srv, nats.UserInfo("full", "full"))
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	return srv, js, jetqtest.NewProducer(t, js), in
}
