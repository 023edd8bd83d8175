package consumer_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// A filing that fails goes on in the background; the connection's close
// then stops the worker by force while that filing waits to try again. The
// worker must return ErrConnectionClosed, not take the process down (issue
// 24: a nil error was read there).
func TestForcedStopWhileFilingInBackgroundReturns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.filing.closed")
	var conn atomic.Pointer[nats.Conn]
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		conn.Load().Close() // the filing that follows cannot reach the server
		return tasks.Permanent(errors.New("declined"))
	})
	rw := b.startWorker(t, reg)
	conn.Store(rw.nc)
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	if err := rw.wait(t, 30*time.Second); !errors.Is(err, consumer.ErrConnectionClosed) {
		t.Errorf("Run: got %v, want ErrConnectionClosed", err)
	}
}

// A middleware's panic fails the attempt like a handler's: the worker goes
// on and the task is dead-lettered on its last attempt.
func TestPanickingMiddlewareFailsOnlyTheAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.middleware.panic", tasks.WithMaxAttempts(1))
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error { return nil })
	boom := func(next tasks.Handler) tasks.Handler {
		return func(ctx context.Context, env *tasks.Envelope) error { panic("middleware bug") }
	}
	b.startWorker(t, reg, consumer.WithMiddleware(boom))
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	recs := dlqRecords(t, b.js, 1)
	if got := recs[0].Header.Get("Jetq-Dlq-Reason"); got != "max_attempts" {
		t.Errorf("reason: got %q, want max_attempts", got)
	}
	if got := recs[0].Header.Get("Jetq-Dlq-Error"); !strings.Contains(got, "middleware bug") {
		t.Errorf("error: got %q, want the panic's value", got)
	}
	workEmpty(t, b.js)
}

// A dead-letter middleware's panic fails that try at filing the record, in
// the runner or in the background; the record is filed at the next try.
func TestPanickingDeadLetterMiddlewareFailsOnlyTheTry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.dlmiddleware.panic")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		return tasks.Permanent(errors.New("declined"))
	})
	var tries atomic.Int32
	boom := func(next tasks.Enqueuer) tasks.Enqueuer {
		return func(ctx context.Context, batch []*tasks.Envelope) []error {
			if tries.Add(1) <= 2 {
				panic("dead-letter middleware bug")
			}
			return next(ctx, batch)
		}
	}
	b.startWorker(t, reg, consumer.WithDeadLetterMiddleware(boom))
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 1}); err != nil {
		t.Fatal(err)
	}
	recs := dlqRecords(t, b.js, 1)
	if got := recs[0].Header.Get("Jetq-Dlq-Reason"); got != "permanent" {
		t.Errorf("reason: got %q, want permanent", got)
	}
	workEmpty(t, b.js)
	if got := tries.Load(); got != 3 {
		t.Errorf("tries at filing: got %d, want 3", got)
	}
}
