package settle

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jetq/jetq/tasks"
)

// waitErr polls ctx.Err until it is not nil or a second has passed.
// withDeadline is a Ctx of its own for the attempt under parent ending at
// deadline, as Attempt makes when the caller holds none.
func withDeadline(parent context.Context, deadline time.Time) *Ctx {
	return new(Ctx).start(parent, deadline)
}

func waitErr(ctx context.Context) error {
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func TestDeadlineDoneClosesAtTheDeadline(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := withDeadline(context.Background(), start.Add(20*time.Millisecond))
	if err := c.Err(); err != nil {
		t.Fatalf("Err before the deadline = %v, want nil", err)
	}
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("Done not closed 2s after a 20ms deadline")
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Errorf("Done closed after %v, before the 20ms deadline", waited)
	}
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err = %v, want DeadlineExceeded", err)
	}
	if err := context.Cause(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Cause = %v, want DeadlineExceeded", err)
	}
}

func TestDeadlineErrWithoutDone(t *testing.T) {
	t.Parallel()
	c := withDeadline(context.Background(), time.Now().Add(10*time.Millisecond))
	if err := waitErr(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after the deadline, Done never called = %v, want DeadlineExceeded", err)
	}
	// Done asked for after the end is closed at once.
	select {
	case <-c.Done():
	default:
		t.Fatal("Done of an ended context is not closed")
	}
}

func TestDeadlineFollowsItsParent(t *testing.T) {
	t.Parallel()
	for _, armed := range []bool{false, true} {
		parent, cancel := context.WithCancel(context.Background())
		c := withDeadline(parent, time.Now().Add(time.Hour))
		var done <-chan struct{}
		if armed {
			done = c.Done()
		}
		cancel()
		if armed {
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				t.Fatal("Done not closed after the parent was cancelled")
			}
		}
		if err := waitErr(c); !errors.Is(err, context.Canceled) {
			t.Errorf("armed %v: Err after the parent was cancelled = %v, want Canceled", armed, err)
		}
	}
}

func TestDeadlineEndStopsIt(t *testing.T) {
	t.Parallel()
	c := withDeadline(context.Background(), time.Now().Add(30*time.Millisecond))
	done := c.Done()
	c.end()
	select {
	case <-done:
	default:
		t.Fatal("Done not closed by end")
	}
	time.Sleep(50 * time.Millisecond) // past the deadline: the stopped timer must not change the error
	if err := c.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err after end and past the deadline = %v, want Canceled", err)
	}
}

func TestDeadlineTakesTheEarlierOfItsParents(t *testing.T) {
	t.Parallel()
	pd := time.Now().Add(time.Minute)
	parent, cancel := context.WithDeadline(context.WithValue(context.Background(), ctxKey{}, "v"), pd)
	defer cancel()
	c := withDeadline(parent, time.Now().Add(time.Hour))
	if d, ok := c.Deadline(); !ok || !d.Equal(pd) {
		t.Errorf("Deadline = %v, %v; want the parent's %v, true", d, ok, pd)
	}
	if v := c.Value(ctxKey{}); v != "v" {
		t.Errorf("Value = %v, want the parent's v", v)
	}
}

type ctxKey struct{}

func TestDeadlinePropagatesToChildren(t *testing.T) {
	t.Parallel()
	c := withDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
	child, cancel := context.WithCancel(c)
	defer cancel()
	select {
	case <-child.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("a child of the attempt's context did not end at its deadline")
	}
	if err := child.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("child Err = %v, want DeadlineExceeded", err)
	}
}

// TestDeadlineChildrenNeedNoGoroutine derives contexts from an attempt's,
// as errgroup or a per-call timeout in a handler does: like children of a
// standard context, they must register with it, not each start a goroutine
// to watch it. Not parallel: it counts the process's goroutines.
func TestDeadlineChildrenNeedNoGoroutine(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	c := withDeadline(parent, time.Now().Add(time.Hour))
	before := runtime.NumGoroutine()
	var cancels []context.CancelFunc
	for range 100 {
		_, cancel := context.WithTimeout(c, time.Minute)
		cancels = append(cancels, cancel)
	}
	if n := runtime.NumGoroutine() - before; n > 10 {
		t.Errorf("100 children of an attempt's context started %d goroutines", n)
	}
	for _, cancel := range cancels {
		cancel()
	}
	c.end()
}

func TestDeadlineConcurrentUse(t *testing.T) {
	t.Parallel()
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := withDeadline(parent, time.Now().Add(5*time.Millisecond))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 4 {
			case 0:
				<-c.Done()
			case 1:
				_ = waitErr(c)
			case 2:
				cancel()
			case 3:
				c.end()
			}
		}()
	}
	wg.Wait()
	<-c.Done()
	if c.Err() == nil {
		t.Fatal("Err = nil after Done closed")
	}
}

func TestAttemptTimesOutWithTheLazyContext(t *testing.T) {
	t.Parallel()
	var deadline time.Time
	waits := func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	// The caller holds the attempt's context.
	var in Ctx
	var got context.Context
	timedOut, err := Attempt(context.Background(), func(ctx context.Context, _ *tasks.Envelope) error { got = ctx; return waits(ctx) },
		nil, 20*time.Millisecond, func(dl time.Time) { deadline = dl }, &in)
	if !timedOut || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Attempt = %v, %v; want timed out, DeadlineExceeded", timedOut, err)
	}
	if deadline.IsZero() {
		t.Error("started was not told the deadline")
	}
	if got != context.Context(&in) || in.deadline != deadline {
		t.Errorf("the handler ran under %v, not the context held by the caller (deadline %v)", got, in.deadline)
	}
	// A handler that returns in time is not timed out, even if it fails.
	timedOut, err = Attempt(context.Background(), func(ctx context.Context, _ *tasks.Envelope) error { return errors.New("boom") },
		nil, time.Hour, nil, nil)
	if timedOut || err == nil {
		t.Fatalf("Attempt = %v, %v; want not timed out, boom", timedOut, err)
	}
}
