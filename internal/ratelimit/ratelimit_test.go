package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/ratelimit"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }

func TestGranted(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		total    int64
		k, n     int
		want     int
		describe string
	}{
		{5, 5, 10, 5, "first request within the limit"},
		{10, 5, 10, 5, "request that reaches the limit"},
		{12, 5, 10, 3, "request that crosses the limit"},
		{15, 5, 10, 0, "request past the limit"},
		{1 << 40, 1, 10, 0, "count far past the limit"},
	} {
		if got := ratelimit.Granted(c.total, c.k, c.n); got != c.want {
			t.Errorf("%s: Granted(%d, %d, %d) = %d, want %d", c.describe, c.total, c.k, c.n, got, c.want)
		}
	}
}

// setup returns a counter on a fresh server, its rate stream created.
func setup(t *testing.T) *ratelimit.Counter {
	t.Helper()
	js := embeddedtest.JetStream(t)
	c := ratelimit.New(js, topology.Topology{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Ensure(ctx); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	return c
}

var spec = tasks.Spec{Name: "mail.send", Queue: "default",
	RateLimit: tasks.Rate{N: 10, Per: time.Second}, KeyRateLimit: tasks.Rate{N: 3, Per: time.Second}}

func TestTakeGrantsAtMostTheLimitPerWindow(t *testing.T) {
	t.Parallel()
	c := setup(t)
	ctx := context.Background()
	var got []int
	for _, k := range []int{4, 4, 4, 4} {
		n, err := c.Take(ctx, c.TypeSubject(spec, 7), k, 10)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if want := []int{4, 4, 2, 0}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("grants of four requests for 4 of 10: got %v, want %v", got, want)
	}
	// Another window, and a key's window, count apart.
	if n, err := c.Take(ctx, c.TypeSubject(spec, 8), 4, 10); err != nil || n != 4 {
		t.Errorf("next window: got %d, %v, want 4", n, err)
	}
	for _, key := range []string{"acme", "Ünïcode key.with dots>*"} {
		if n, err := c.Take(ctx, c.KeySubject(spec, key, 7), 5, 3); err != nil || n != 3 {
			t.Errorf("key %q: got %d, %v, want 3", key, n, err)
		}
	}
}

func TestGatesOfTwoWorkersShareOneLimit(t *testing.T) {
	t.Parallel()
	c := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// One window for the whole test: the requests all count in window 1,
	// whatever the clock says.
	take := func(ctx context.Context, _ int64, k int) (int, error) {
		return c.Take(ctx, c.TypeSubject(spec, 1), k, 30)
	}
	total := 0
	for range 2 {
		wake := make(chan struct{}, 1)
		g := ratelimit.NewGate(ctx, ratelimit.GateConfig{N: 30, Per: tasks.MaxRatePer, Take: take,
			Wake: func() {
				select {
				case wake <- struct{}{}:
				default:
				}
			},
			OnError: func(err error) { t.Error(err) }})
		// Ask for 10 at a time until the gate asks and is refused (a
		// request granted in part would not wake it): it then waits for the
		// next window, which is an hour away, and grants nothing.
		for {
			n, _, _ := g.Grant(10, time.Now())
			total += n
			if n > 0 {
				continue
			}
			<-wake // its request has come back
			n, _, _ = g.Grant(10, time.Now())
			total += n
			if n == 0 {
				break
			}
		}
	}
	if total != 30 {
		t.Errorf("two gates granted %d starts of a limit of 30, want 30", total)
	}
}

func TestKeyedRunsEachKeysLimitAndHandsTheRestBack(t *testing.T) {
	t.Parallel()
	c := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	take := func(ctx context.Context, key string, _ int64, k int) (int, error) {
		return c.Take(ctx, c.KeySubject(spec, key, 1), k, 3) // one window: see above
	}
	var mu sync.Mutex
	ran, back := map[string]int{}, map[string]int{}
	count := func(m map[string]int) func(string) {
		return func(key string) {
			mu.Lock()
			m[key]++
			mu.Unlock()
		}
	}
	k := ratelimit.NewKeyed(ctx, ratelimit.KeyedConfig[string]{N: 3, Per: tasks.MaxRatePer, Take: take,
		Run: count(ran), Back: count(back), OnError: func(err error) { t.Error(err) }})
	for i := range 10 {
		k.Hold("a", "a")
		if i < 2 {
			k.Hold("b", "b")
		}
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if ran["a"] != 3 || ran["b"] != 2 || k.Held() != 7 {
			return fmt.Errorf("ran %v with %d held, want a:3 b:2 with 7 held", ran, k.Held())
		}
		return nil
	})
	select {
	case <-k.None():
		t.Fatal("None is closed while tasks are held")
	default:
	}
	cancel()
	<-k.None()
	if back["a"] != 7 || back["b"] != 0 {
		t.Errorf("handed back %v, want a:7", back)
	}
}

func TestEnsureRefusesAStreamThatDoesNotCount(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	ctx := context.Background()
	cfg := ratelimit.StreamConfig(topology.Topology{})
	cfg.AllowMsgCounter = false
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	err := ratelimit.New(js, topology.Topology{}).Ensure(ctx)
	if !errors.Is(err, ratelimit.ErrUnsupported) {
		t.Errorf("Ensure over a stream without counters: got %v, want ErrUnsupported", err)
	}
}
