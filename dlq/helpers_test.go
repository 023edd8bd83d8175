package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/forwarder"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Job is the payload of the test tasks.
type Job struct {
	N int `json:"n"`
}

type bundle struct {
	srv *embedded.Server
	js  jetstream.JetStream
	p   *producer.Producer
	in  *inspect.Inspector
}

func setup(t *testing.T) *bundle {
	t.Helper()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	p := jetqtest.NewProducer(t, js)
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{srv: srv, js: js, p: p, in: in}
}

// runningForwarder is a forwarder a test started.
type runningForwarder struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned err
	err    error
}

// stop cancels Run's ctx and returns what Run returned.
func (rf *runningForwarder) stop() error {
	rf.cancel()
	<-rf.done
	return rf.err
}

// runForwarder runs a forwarder on its own connection until stopped or the
// test ends.
func (b *bundle) runForwarder(t *testing.T, opts ...dlq.Option) *runningForwarder {
	t.Helper()
	_, js := embeddedtest.Connect(t, b.srv)
	f, err := dlq.NewForwarder(js, append([]dlq.Option{dlq.WithLogger(testkit.Logger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rf := &runningForwarder{cancel: cancel, done: make(chan struct{})}
	go func() {
		rf.err = f.Run(ctx)
		close(rf.done)
	}()
	t.Cleanup(func() { _ = rf.stop() })
	return rf
}

// dieOnEveryAttempt makes each delivery of def meet a worker that dies
// mid-task: the worker's connection is closed from inside the handler, so
// no ack, Nak or record ever reaches the server. It returns once the last
// attempt's worker is dead; the server gives up on the task an ack wait
// later, when a pull waits on the task's durable (a forwarder's does).
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
		w, err := consumer.New(js, reg, consumer.WithLogger(testkit.Logger(t)))
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
}

// waitAdvisories waits until the events stream holds n max-deliveries advisories.
func (b *bundle) waitAdvisories(t *testing.T, n int) {
	t.Helper()
	waitFor(t, func() error {
		s, err := b.js.Stream(context.Background(), "JETQ_EVENTS")
		if err != nil {
			return err
		}
		info, err := s.Info(context.Background(), jetstream.WithSubjectFilter("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>"))
		if err != nil {
			return err
		}
		got := 0
		for _, c := range info.State.Subjects {
			got += int(c)
		}
		if got < n {
			return fmt.Errorf("max-deliveries advisories: %d, want %d", got, n)
		}
		return nil
	})
}

// forwarded waits until the forwarders have settled every event of the
// events stream for good: none pending, none awaiting its ack.
func (b *bundle) forwarded(t *testing.T) *jetstream.ConsumerInfo {
	t.Helper()
	var info *jetstream.ConsumerInfo
	waitFor(t, func() error {
		c, err := b.js.Consumer(context.Background(), "JETQ_EVENTS", forwarder.Durable)
		if err != nil {
			return err
		}
		if info, err = c.Info(context.Background()); err != nil {
			return err
		}
		if info.NumPending != 0 || info.NumAckPending != 0 {
			return fmt.Errorf("forwarder's consumer: %d events pending, %d awaiting ack", info.NumPending, info.NumAckPending)
		}
		// A consumer just created may not have counted its pending
		// events yet: settled means acknowledged up to the last event.
		s, err := b.js.Stream(context.Background(), "JETQ_EVENTS")
		if err != nil {
			return err
		}
		if last := s.CachedInfo().State.LastSeq; info.AckFloor.Stream < last {
			return fmt.Errorf("forwarder's consumer: acknowledged up to event %d of %d", info.AckFloor.Stream, last)
		}
		return nil
	})
	return info
}

// waitFor polls cond until it returns nil, for at most 30 s.
func waitFor(t *testing.T, cond func() error) {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, cond)
}

// waitRecords waits until the dead-letter stream holds want records and
// returns them, oldest first.
func (b *bundle) waitRecords(t *testing.T, want int) []inspect.DeadLetter {
	t.Helper()
	return jetqtest.WaitLen(t, want, "dead-letter records", func() ([]inspect.DeadLetter, error) {
		return b.in.DeadLetters(context.Background(), inspect.DeadLetterFilter{Limit: -1})
	})
}
