package jetqtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// stopWithin bounds how long the end of a test waits for a worker's Run to
// return: the shutdown timeout and a margin.
const stopWithin = 30 * time.Second

// Worker is a [consumer.Worker] that a test runs.
type Worker struct {
	*consumer.Worker
	js     jetstream.JetStream
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned err
	err    error
	mu     sync.Mutex
	taken  bool // the test took err from Wait or Stop
	killed bool // the test closed the worker's connection with Kill
}

// StartWorker runs a worker of reg on a connection of its own to srv until
// the test ends. It logs to t; opts come after that, so a WithLogger among
// them wins. It fails t if the worker cannot be created.
func StartWorker(t testing.TB, srv *embedded.Server, reg *tasks.Registry, opts ...consumer.Option) *Worker {
	t.Helper()
	_, js := embeddedtest.Connect(t, srv)
	return StartWorkerOn(t, js, reg, opts...)
}

// StartWorkerOn is [StartWorker] on js, a connection the test has.
func StartWorkerOn(t testing.TB, js jetstream.JetStream, reg *tasks.Registry, opts ...consumer.Option) *Worker {
	t.Helper()
	w, err := consumer.New(js, reg, append([]consumer.Option{consumer.WithLogger(testkit.Logger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rw := &Worker{Worker: w, js: js, cancel: cancel, done: make(chan struct{})}
	go func() {
		rw.err = w.Run(ctx)
		close(rw.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-rw.done:
		case <-time.After(stopWithin):
			t.Errorf("worker did not stop within %v", stopWithin)
			return
		}
		rw.mu.Lock()
		defer rw.mu.Unlock()
		if rw.err != nil && !rw.taken && !(rw.killed && errors.Is(rw.err, consumer.ErrConnectionClosed)) {
			t.Errorf("worker's Run: %v", rw.err)
		}
	})
	return rw
}

// Conn is the worker's connection.
func (w *Worker) Conn() *nats.Conn { return w.js.Conn() }

// Kill closes the worker's connection, as a process that dies would: its
// deliveries are neither acknowledged nor handed back. Run then returns
// [consumer.ErrConnectionClosed], which the end of the test takes as
// expected.
func (w *Worker) Kill() {
	w.mu.Lock()
	w.killed = true
	w.mu.Unlock()
	w.Conn().Close()
}

// Cancel cancels the ctx of the worker's Run, which then drains and returns.
func (w *Worker) Cancel() { w.cancel() }

// Wait returns what the worker's Run returned, once it has; it fails t if
// Run has not returned within within.
func (w *Worker) Wait(t testing.TB, within time.Duration) error {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(within):
		t.Fatalf("the worker's Run did not return within %v", within)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.taken = true
	return w.err
}

// Stop cancels the worker's Run and returns what Run returned, as Wait
// does. It may be called more than once.
func (w *Worker) Stop(t testing.TB) error {
	t.Helper()
	w.Cancel()
	return w.Wait(t, stopWithin)
}

// NewProducer returns a producer on js that logs to t; opts come after
// that, so a WithLogger among them wins. It fails t if the producer cannot
// be created.
func NewProducer(t testing.TB, js jetstream.JetStream, opts ...producer.Option) *producer.Producer {
	t.Helper()
	p, err := producer.New(js, append([]producer.Option{producer.WithLogger(testkit.Logger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
