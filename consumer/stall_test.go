package consumer_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// stalledConsume stands in for nats.go's Consume: it fetches n deliveries,
// hands them to h, and never pulls again. The real Consume does that, then
// waits for missed heartbeats, when it loses a race between its pull
// goroutine and its message handler: once in some hundred thousand
// deliveries on a busy machine, which no test can bring about on demand.
func stalledConsume(cons jetstream.Consumer, h jetstream.MessageHandler, n int) (jetstream.ConsumeContext, error) {
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		return nil, err
	}
	s := &stalled{delivered: make(chan struct{}), closed: make(chan struct{})}
	go func() {
		defer close(s.delivered)
		for m := range batch.Messages() {
			h(m)
		}
	}()
	return s, nil
}

type stalled struct {
	delivered, closed chan struct{}
	once              sync.Once
}

func (s *stalled) Stop()                   { s.once.Do(func() { close(s.closed) }) }
func (s *stalled) Drain()                  { <-s.delivered; s.Stop() }
func (s *stalled) Closed() <-chan struct{} { return s.closed }

func TestWorkerPullsAgainWhenConsumeStopsPulling(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("stall.pull")
	const total = 20
	payloads := make([]Args, total)
	for i := range payloads {
		payloads[i] = Args{N: i}
	}
	if _, err := producer.EnqueueBatch(ctx, b.p, def, payloads); err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int64
	all := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, task *tasks.Task[Args]) error {
		if handled.Add(1) == total {
			close(all)
		}
		return nil
	})
	// The check's questions to the server, seen as they are sent.
	infos := make(chan *nats.Msg, 16)
	isub, err := b.js.Conn().ChanSubscribe("$JS.API.CONSUMER.INFO.JETQ_TASKS.>", infos)
	if err != nil {
		t.Fatal(err)
	}
	defer isub.Unsubscribe() //nolint:errcheck
	_, js := embeddedtest.Connect(t, b.srv)
	w, err := consumer.New(js, reg, consumer.WithLogger(testLogger(t)), consumer.WithConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	var consumes atomic.Int32
	consumer.SetConsumeFunc(w, func(cons jetstream.Consumer, h jetstream.MessageHandler, opts ...jetstream.PullConsumeOpt) (jetstream.ConsumeContext, error) {
		if consumes.Add(1) == 1 {
			return stalledConsume(cons, h, 3)
		}
		return cons.Consume(h, opts...)
	})
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// Missed heartbeats would never come: the stand-in sends none.
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatalf("handled %d of %d tasks: the worker did not pull again", handled.Load(), total)
	}
	if n := consumes.Load(); n != 2 {
		t.Errorf("Consume started %d times, want 2: the stalled one and its replacement", n)
	}
	if n := len(infos); n != 1 {
		t.Fatalf("the check asked the server %d times, want once: when the stand-in stopped", n)
	}
	<-infos
	// An empty queue is quiet, not stalled, and the check asks nothing
	// about it: its last delivery said no more were pending.
	select {
	case <-time.After(5 * 100 * time.Millisecond):
	case m := <-infos:
		t.Errorf("the check asked %s about an idle consumer", m.Subject)
	}
	if n := consumes.Load(); n != 2 {
		t.Errorf("Consume started %d times on an empty queue, want still 2", n)
	}
}
