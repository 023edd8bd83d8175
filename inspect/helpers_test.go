package inspect_test

import (
	"context"
	"fmt"
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

// setupQueues starts a server and returns it with a producer and an inspector
// on it.
func setupQueues(t *testing.T) (*embedded.Server, *producer.Producer, *inspect.Inspector) {
	t.Helper()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	return srv, p, in
}

// runWorker runs a worker of reg on its own connection until the test
// ends.
func runWorker(t *testing.T, srv *embedded.Server, reg *tasks.Registry, opts ...consumer.Option) {
	t.Helper()
	jetqtest.StartWorker(t, srv, reg, opts...)
}

// Job is the payload of the dead-letter tests' tasks.
type Job struct {
	N int `json:"n"`
}

// runWorker runs a worker on its own connection until the test ends.
func (b *fixture) runWorker(t *testing.T, reg *tasks.Registry, opts ...consumer.Option) {
	t.Helper()
	runWorker(t, b.srv, reg, opts...)
}

// waitFor polls cond until it returns nil, for at most 30 s.
func waitFor(t *testing.T, cond func() error) {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, cond)
}

// fileRecord files a dead-letter record the way the worker does, for a task
// that was never enqueued, and returns its sequence in the DLQ stream.
func fileRecord(t *testing.T, js jetstream.JetStream, queue, name string, reason tasks.Reason, at time.Time, n int) uint64 {
	t.Helper()
	names := wire.Names{}
	spec := tasks.Define[Job](name, tasks.WithQueue(queue)).Spec()
	body := fmt.Appendf(nil, `{"n":%d}`, n)
	env := wire.NewEnvelope(names, spec, fmt.Sprintf("%s:%d", name, n), body, at.Add(-time.Minute))
	rec := wire.DeadLetter(names, queue, name, nats.Header(env.Header), body, wire.Failure{
		Reason: reason, Error: "boom", Stream: "JETQ_TASKS", Seq: uint64(1_000_000 + n),
		Subject: env.Subject, Deliveries: 1, At: at,
	}, wire.Limits{})
	ack, err := js.PublishMsg(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Duplicate {
		t.Fatalf("record %d filed twice", n)
	}
	return ack.Sequence
}

// waitRecords waits until the dead-letter stream holds want records and
// returns them, oldest first.
func (b *fixture) waitRecords(t *testing.T, want int) []inspect.DeadLetter {
	t.Helper()
	return jetqtest.WaitLen(t, want, "dead-letter records", func() ([]inspect.DeadLetter, error) {
		return b.in.DeadLetters(context.Background(), inspect.DeadLetterFilter{Limit: -1})
	})
}
