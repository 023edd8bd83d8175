package schedule_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/tasks"
)

// run records each run of a task: its ID and when it started.
type run struct {
	ID string
	At time.Time
}

// runs collects the runs of the tasks of a test.
type runs struct {
	mu   sync.Mutex
	list []run
}

func (r *runs) add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, run{id, time.Now()})
}

func (r *runs) all() []run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]run(nil), r.list...)
}

func (r *runs) count(id string) int {
	n := 0
	for _, x := range r.all() {
		if x.ID == id {
			n++
		}
	}
	return n
}

// setup starts an in-process server and returns its JetStream, a producer
// and the schedules.
func setup(t *testing.T) (jetstream.JetStream, *producer.Producer, *schedule.Schedules) {
	t.Helper()
	_, js, p, s := setupServer(t)
	return js, p, s
}

// setupServer is setup that returns the server too.
func setupServer(t *testing.T) (*embedded.Server, jetstream.JetStream, *producer.Producer, *schedule.Schedules) {
	t.Helper()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	p := jetqtest.NewProducer(t, js)
	s, err := schedule.New(js, schedule.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	return srv, js, p, s
}

// recorder returns a registry whose handler of def records each run in got.
func recorder[T any](def *tasks.Definition[T], got *runs) *tasks.Registry {
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[T]) error {
		got.add(tk.ID)
		return nil
	})
	return reg
}

// countExpired is worker middleware that counts the deliveries settled as
// expired in n.
func countExpired(n *atomic.Int64) tasks.Middleware {
	return func(next tasks.Handler) tasks.Handler {
		return func(ctx context.Context, env *tasks.Envelope) error {
			err := next(ctx, env)
			if env.Outcome.Action == tasks.ActionExpire {
				n.Add(1)
			}
			return err
		}
	}
}

// newInspector returns an Inspector of js that logs to the test's log.
func newInspector(t *testing.T, js jetstream.JetStream) *inspect.Inspector {
	t.Helper()
	in, err := inspect.New(js, inspect.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	return in
}
