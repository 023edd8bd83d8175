package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/forwarder"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

type Job struct {
	N int `json:"n"`
}

var quiet = slog.New(slog.DiscardHandler)

type bundle struct {
	srv *embedded.Server
	js  jetstream.JetStream
	p   *producer.Producer
	in  *dlq.Inspector
}

func setup(t *testing.T) *bundle {
	t.Helper()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	in, err := dlq.NewInspector(js)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{srv: srv, js: js, p: p, in: in}
}

// runWorker runs a worker on its own connection until stop or the test end.
func (b *bundle) runWorker(t *testing.T, reg *tasks.Registry, opts ...consumer.Option) (stop func()) {
	t.Helper()
	_, js := embeddedtest.Connect(t, b.srv)
	w, err := consumer.New(js, reg, append([]consumer.Option{consumer.WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// dieOnEveryAttempt makes each delivery of def meet a worker that dies
// mid-task: the worker's connection is closed from inside the handler, so
// no ack and no Nak ever reach the server. It returns once the server has
// given up on the task (its max-deliveries advisory is in the events stream).
func (b *bundle) dieOnEveryAttempt(t *testing.T, def *tasks.Definition[Job]) {
	t.Helper()
	for attempt := 1; attempt <= def.Spec().MaxAttempts; attempt++ {
		nc, js := embeddedtest.Connect(t, b.srv)
		started := make(chan struct{})
		reg := tasks.NewRegistry()
		tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Job]) error {
			if tk.Attempt != attempt {
				t.Errorf("delivery %d to a worker waiting for attempt %d", tk.Attempt, attempt)
			}
			nc.Close() // the process dies
			close(started)
			return nil
		})
		w, err := consumer.New(js, reg, consumer.WithLogger(quiet), consumer.WithAckWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- w.Run(context.Background()) }()
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			t.Fatalf("attempt %d never delivered", attempt)
		}
		if err := <-done; !errors.Is(err, consumer.ErrConnectionClosed) {
			t.Fatalf("dead worker's Run: %v", err)
		}
	}
	waitFor(t, func() error {
		n := msgs(t, b.js, "JETQ_EVENTS")
		if n == 0 {
			return errors.New("no advisory in the events stream yet")
		}
		return nil
	})
}

func msgs(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func waitFor(t *testing.T, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRecords waits until the dead-letter stream holds want records.
func (b *bundle) waitRecords(t *testing.T, want int) []dlq.Entry {
	t.Helper()
	var entries []dlq.Entry
	waitFor(t, func() error {
		var err error
		entries, err = b.in.List(context.Background(), dlq.Filter{Limit: -1})
		if err != nil {
			return err
		}
		if len(entries) != want {
			return fmt.Errorf("dead-letter records: %d, want %d", len(entries), want)
		}
		return nil
	})
	return entries
}

func runForwarder(t *testing.T, js jetstream.JetStream, hooks forwarder.Hooks) (done chan error, stop func()) {
	t.Helper()
	f := forwarder.New(js, wire.Topology{}, quiet, hooks)
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(cancel)
	return done, cancel
}

func TestForwarderFilesTasksOfDeadWorkers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Job]("dlq.crashy", tasks.WithMaxAttempts(2))
	r, err := producer.Enqueue(context.Background(), b.p, def, Job{N: 7})
	if err != nil {
		t.Fatal(err)
	}
	b.dieOnEveryAttempt(t, def)
	if n := msgs(t, b.js, "JETQ_TASKS"); n != 1 {
		t.Fatalf("work stream holds %d tasks before the forwarder runs, want the 1 the server gave up on", n)
	}

	f, err := dlq.NewForwarder(b.js, dlq.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	e := b.waitRecords(t, 1)[0]
	if e.Reason != tasks.ReasonMaxDeliveries || e.ID != r.ID || e.Deliveries != 2 || e.StreamSeq != r.Sequence ||
		e.Task != "dlq.crashy" || string(e.Payload) != `{"n":7}` {
		t.Errorf("record %+v", e)
	}
	waitFor(t, func() error {
		if n := msgs(t, b.js, "JETQ_TASKS"); n != 0 {
			return fmt.Errorf("work stream still holds %d tasks", n)
		}
		return nil
	})
}

func TestForwarderKilledBetweenPublishAndDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Job]("dlq.crash-twice", tasks.WithMaxAttempts(1))
	if _, err := producer.Enqueue(context.Background(), b.p, def, Job{}); err != nil {
		t.Fatal(err)
	}
	b.dieOnEveryAttempt(t, def)

	// The first forwarder dies right after filing the record.
	done, _ := runForwarder(t, b.js, forwarder.Hooks{AfterPublish: func() error { return forwarder.ErrCrash }})
	select {
	case err := <-done:
		if !errors.Is(err, forwarder.ErrCrash) {
			t.Fatalf("first forwarder: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first forwarder never reached its crash point")
	}
	if n := msgs(t, b.js, "JETQ_TASKS"); n != 1 {
		t.Fatalf("work stream after the crash: %d tasks, want 1 (never deleted)", n)
	}
	b.waitRecords(t, 1)

	// A new forwarder finds the advisory unacknowledged and finishes the job.
	var published atomic.Int32
	runForwarder(t, b.js, forwarder.Hooks{AfterPublish: func() error { published.Add(1); return nil }})
	waitFor(t, func() error {
		if n := msgs(t, b.js, "JETQ_TASKS"); n != 0 {
			return fmt.Errorf("work stream still holds %d tasks", n)
		}
		return nil
	})
	if published.Load() == 0 {
		t.Error("the second forwarder never filed: it did not redo the step")
	}
	if n := len(b.waitRecords(t, 1)); n != 1 {
		t.Errorf("records: %d, want 1", n)
	}
}

// TestWorkerAndForwarderNeverFileOneTaskTwice files a task's record the way
// the worker does, then lets the worker "crash" before its Term: the server
// gives up on the task and the forwarder files it again. The dead-letter
// stream keeps one record.
func TestWorkerAndForwarderNeverFileOneTaskTwice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Job]("dlq.both-paths", tasks.WithMaxAttempts(1))
	r, err := producer.Enqueue(context.Background(), b.p, def, Job{})
	if err != nil {
		t.Fatal(err)
	}
	// The worker's half: the record published exactly as the worker builds it.
	work, err := b.js.Stream(context.Background(), "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := work.GetMsg(context.Background(), r.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	rec := wire.DeadLetter(wire.Names{}, "default", "dlq.both-paths", raw.Header, raw.Data, wire.Failure{
		Reason: tasks.ReasonMaxAttempts, Error: "boom", Stream: "JETQ_TASKS", Seq: r.Sequence,
		Subject: raw.Subject, Deliveries: 1, At: time.Now(),
	})
	if _, err := b.js.PublishMsg(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	// …and its crash before the Term: the delivery goes unanswered.
	b.dieOnEveryAttempt(t, def)
	runForwarder(t, b.js, forwarder.Hooks{})
	waitFor(t, func() error {
		if n := msgs(t, b.js, "JETQ_TASKS"); n != 0 {
			return fmt.Errorf("work stream still holds %d tasks", n)
		}
		return nil
	})
	entries := b.waitRecords(t, 1)
	if entries[0].Reason != tasks.ReasonMaxAttempts {
		t.Errorf("the record kept is %+v, want the worker's", entries[0])
	}
}

func TestWorkerWithForwarderFilesMaxDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Job]("dlq.worker-forwards", tasks.WithMaxAttempts(1))
	if _, err := producer.Enqueue(context.Background(), b.p, def, Job{}); err != nil {
		t.Fatal(err)
	}
	b.dieOnEveryAttempt(t, def)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, tasks.Define[Job]("dlq.other"), func(context.Context, *tasks.Task[Job]) error { return nil })
	b.runWorker(t, reg, consumer.WithForwarder())
	if e := b.waitRecords(t, 1)[0]; e.Reason != tasks.ReasonMaxDeliveries {
		t.Errorf("record %+v", e)
	}
}

func TestReplayRunsTheTaskAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Job]("dlq.fixable", tasks.WithMaxAttempts(3))
	var fixed atomic.Bool
	type run struct {
		id      string
		attempt int
	}
	runs := make(chan run, 10)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Job]) error {
		runs <- run{tk.ID, tk.Attempt}
		if !fixed.Load() {
			return tasks.Permanent(errors.New("config missing"))
		}
		return nil
	})
	b.runWorker(t, reg)
	r, err := producer.Enqueue(context.Background(), b.p, def, Job{N: 1}, producer.WithID("job:1"))
	if err != nil {
		t.Fatal(err)
	}
	<-runs
	e := b.waitRecords(t, 1)[0]
	if e.ID != r.ID || e.Reason != tasks.ReasonPermanent {
		t.Fatalf("record %+v", e)
	}

	fixed.Store(true)
	if err := b.in.Replay(context.Background(), e.Seq); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-runs:
		if got.id != "job:1" || got.attempt != 1 {
			t.Errorf("replayed task ran as %+v, want job:1 attempt 1", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the replayed task never ran")
	}
	b.waitRecords(t, 0)
	if _, err := b.in.Get(context.Background(), e.Seq); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("Get after replay: %v, want ErrNotFound", err)
	}
	if err := b.in.Replay(context.Background(), e.Seq); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("second Replay: %v, want ErrNotFound", err)
	}
}

func TestListFiltersPagesAndRemoves(t *testing.T) {
	t.Parallel()
	b := setup(t)
	email := tasks.Define[Job]("dlq.email", tasks.WithMaxAttempts(1))
	report := tasks.Define[Job]("dlq.report", tasks.WithQueue("reports"), tasks.WithMaxAttempts(1))
	reg := tasks.NewRegistry()
	fail := func(ctx context.Context, tk *tasks.Task[Job]) error {
		if tk.Payload.N%2 == 0 {
			return tasks.Permanent(errors.New("even"))
		}
		return errors.New("odd")
	}
	tasks.MustHandle(reg, email, fail)
	tasks.MustHandle(reg, report, fail)
	b.runWorker(t, reg)
	ctx := context.Background()
	for i := range 6 {
		if _, err := producer.Enqueue(ctx, b.p, email, Job{N: i}); err != nil {
			t.Fatal(err)
		}
		b.waitRecords(t, i+1) // one at a time: the order is known
	}
	if _, err := producer.Enqueue(ctx, b.p, report, Job{N: 1}); err != nil {
		t.Fatal(err)
	}
	all := b.waitRecords(t, 7)

	seqs := func(es []dlq.Entry) []string {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = strconv.Itoa(int(e.Seq))
		}
		return out
	}
	check := func(name string, f dlq.Filter, want int) []dlq.Entry {
		t.Helper()
		got, err := b.in.List(ctx, f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != want {
			t.Errorf("%s: %d records %v, want %d", name, len(got), seqs(got), want)
		}
		return got
	}
	check("by task", dlq.Filter{Task: "dlq.email"}, 6)
	check("by queue", dlq.Filter{Queue: "reports"}, 1)
	check("by reason", dlq.Filter{Reason: tasks.ReasonPermanent}, 3)
	check("by task and reason", dlq.Filter{Task: "dlq.email", Reason: tasks.ReasonMaxAttempts}, 3)
	check("since the 5th", dlq.Filter{Since: all[4].FailedAt}, 3)
	check("until the 2nd", dlq.Filter{Until: all[1].FailedAt}, 2)

	page1 := check("newest page 1", dlq.Filter{Order: dlq.NewestFirst, Limit: 3}, 3)
	page2 := check("newest page 2", dlq.Filter{Order: dlq.NewestFirst, Limit: 3, After: page1[2].Seq}, 3)
	page3 := check("newest page 3", dlq.Filter{Order: dlq.NewestFirst, Limit: 3, After: page2[2].Seq}, 1)
	if page1[0].Seq != all[6].Seq || page3[0].Seq != all[0].Seq || page2[0].Seq >= page1[2].Seq {
		t.Errorf("newest-first pages out of order: %v %v %v", seqs(page1), seqs(page2), seqs(page3))
	}
	older := check("oldest after the 2nd", dlq.Filter{After: all[1].Seq, Limit: 2}, 2)
	if older[0].Seq != all[2].Seq {
		t.Errorf("oldest-first page: %v", seqs(older))
	}
	if got := check("headers only", dlq.Filter{HeadersOnly: true, Limit: 1}, 1); got[0].Payload != nil || got[0].Reason == "" {
		t.Errorf("headers-only entry %+v", got[0])
	}

	e, err := b.in.Get(ctx, all[0].Seq)
	if err != nil || e.Task != "dlq.email" || string(e.Payload) != `{"n":0}` || e.Header.Get("Jetq-Dlq-Reason") != "permanent" {
		t.Errorf("Get: %+v, %v", e, err)
	}
	st, err := b.in.Stats(ctx)
	if err != nil || st.Total != 7 || st.ByTask["dlq.email"] != 6 || st.ByReason[tasks.ReasonMaxAttempts] != 4 || st.Oldest.After(st.Newest) {
		t.Errorf("Stats: %+v, %v", st, err)
	}

	if err := b.in.Delete(ctx, all[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := b.in.Delete(ctx, all[0].Seq); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
	if n, err := b.in.Purge(ctx, dlq.Filter{Reason: tasks.ReasonPermanent}); err != nil || n != 2 {
		t.Errorf("Purge by reason: %d, %v; want the 2 permanent left", n, err)
	}
	if n, err := b.in.Purge(ctx, dlq.Filter{Queue: "reports"}); err != nil || n != 1 {
		t.Errorf("Purge by queue: %d, %v", n, err)
	}
	b.waitRecords(t, 3)
	for _, bad := range []dlq.Filter{{Task: "Bad Name"}, {Reason: "exploded"}, {Limit: -2}, {Since: time.Now(), Until: time.Now().Add(-time.Hour)}} {
		if _, err := b.in.List(ctx, bad); !errors.Is(err, dlq.ErrInvalidOption) {
			t.Errorf("List(%+v): %v, want ErrInvalidOption", bad, err)
		}
	}
}

func TestInspectorOnAServerWithoutStreams(t *testing.T) {
	t.Parallel()
	in, err := dlq.NewInspector(embeddedtest.JetStream(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if es, err := in.List(ctx, dlq.Filter{}); err != nil || len(es) != 0 {
		t.Errorf("List: %v, %v", es, err)
	}
	if st, err := in.Stats(ctx); err != nil || st.Total != 0 {
		t.Errorf("Stats: %+v, %v", st, err)
	}
	if _, err := in.Get(ctx, 1); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("Get: %v", err)
	}
	if n, err := in.Purge(ctx, dlq.Filter{}); err != nil || n != 0 {
		t.Errorf("Purge: %d, %v", n, err)
	}
}
