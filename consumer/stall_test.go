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
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// stalledConsume stands in for nats.go's Consume: it fetches n deliveries,
// hands them to h, and never pulls again. The real Consume does that, then
// waits for missed heartbeats, when it loses a race between its pull
// goroutine and its message handler: once in some hundred thousand
// deliveries on a busy machine, which no test can bring about on demand.
func stalledConsume(cons jetstream.Consumer, h jetstream.MessageHandler, n int) (jetstream.ConsumeContext, error) {
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(2*time.Second), jetstream.FetchPriorityGroup(wire.PriorityGroup))
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

// stallRig runs a worker over total queued tasks of a new task type whose
// first Consume is standIn; later ones are nats.go's. It returns once every
// task was handled, with how many times Consume started and the check's
// questions to the server so far, as they were sent (asked is closed at the
// first); stop ends the worker.
type stallRig struct {
	consumes atomic.Int32
	infos    chan *nats.Msg
	asked    chan struct{}
	stop     func()
}

func runStallRig(t *testing.T, name string, total int, standIn func(*stallRig, jetstream.Consumer, jetstream.MessageHandler) (jetstream.ConsumeContext, error)) *stallRig {
	t.Helper()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args](name)
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
		if handled.Add(1) == int64(total) {
			close(all)
		}
		return nil
	})
	rig := &stallRig{infos: make(chan *nats.Msg, 16), asked: make(chan struct{})}
	var first sync.Once
	isub, err := b.js.Conn().Subscribe("$JS.API.CONSUMER.INFO.JETQ_TASKS.>", func(m *nats.Msg) {
		first.Do(func() { close(rig.asked) })
		rig.infos <- m
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = isub.Unsubscribe() })
	_, js := embeddedtest.Connect(t, b.srv)
	w, err := consumer.New(js, reg, consumer.WithLogger(testLogger(t)), consumer.WithConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	consumer.SetConsumeFunc(w, func(cons jetstream.Consumer, h jetstream.MessageHandler, opts ...jetstream.PullConsumeOpt) (jetstream.ConsumeContext, error) {
		if rig.consumes.Add(1) == 1 {
			return standIn(rig, cons, h)
		}
		return cons.Consume(h, opts...)
	})
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(runCtx) }()
	rig.stop = func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	// Missed heartbeats would never come: the stand-ins send none.
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		rig.stop()
		t.Fatalf("handled %d of %d tasks: the worker did not pull again", handled.Load(), total)
	}
	return rig
}

func TestWorkerPullsAgainWhenConsumeStopsPulling(t *testing.T) {
	t.Parallel()
	rig := runStallRig(t, "stall.pull", 20, func(_ *stallRig, cons jetstream.Consumer, h jetstream.MessageHandler) (jetstream.ConsumeContext, error) {
		return stalledConsume(cons, h, 3)
	})
	defer rig.stop()
	if n := rig.consumes.Load(); n != 2 {
		t.Errorf("Consume started %d times, want 2: the stalled one and its replacement", n)
	}
	if n := len(rig.infos); n != 1 {
		t.Fatalf("the check asked the server %d times, want once: when the stand-in stopped", n)
	}
	<-rig.infos
	// An empty queue is quiet, not stalled, and the check asks nothing
	// about it: its last delivery said no more were pending.
	select {
	case <-time.After(5 * 100 * time.Millisecond):
	case m := <-rig.infos:
		t.Errorf("the check asked %s about an idle consumer", m.Subject)
	}
	if n := rig.consumes.Load(); n != 2 {
		t.Errorf("Consume started %d times on an empty queue, want still 2", n)
	}
}

// A delivery that reaches dispatch while the server answers the check is
// one a pull asked for: the subscription still works and is kept.
func TestWorkerKeepsAConsumeWhoseDeliveryCameLate(t *testing.T) {
	t.Parallel()
	rig := runStallRig(t, "stall.late", 20, func(rig *stallRig, cons jetstream.Consumer, h jetstream.MessageHandler) (jetstream.ConsumeContext, error) {
		batch, err := cons.Fetch(6, jetstream.FetchMaxWait(2*time.Second), jetstream.FetchPriorityGroup(wire.PriorityGroup))
		if err != nil {
			return nil, err
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		s := &stalled{delivered: make(chan struct{}), closed: make(chan struct{})}
		go func() {
			defer close(s.delivered)
			for _, m := range msgs[:3] {
				h(m)
			}
			// The server has sent all six and holds no pull: the check
			// asks it, and the rest arrive as it answers.
			<-rig.asked
			for _, m := range msgs[3:] {
				h(m)
			}
		}()
		return s, nil
	})
	defer rig.stop()
	// Kept at the first question, the stand-in is replaced at the second,
	// asked when its last delivery has been quiet. Had the first question
	// replaced it, there would have been no second.
	if n := len(rig.infos); n != 2 {
		t.Errorf("the check asked the server %d times, want twice: after the third delivery and after the sixth", n)
	}
	if n := rig.consumes.Load(); n != 2 {
		t.Errorf("Consume started %d times, want 2: the stand-in and its replacement", n)
	}
}
