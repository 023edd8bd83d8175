package inspect_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/ratelimit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// serverCounter reads the counter of subject in the rate stream, 0 when
// it has none.
func serverCounter(t *testing.T, js jetstream.JetStream, subject string) int {
	t.Helper()
	st, err := js.Stream(context.Background(), "JETQ_RATES")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(context.Background(), subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Val string `json:"val"`
	}
	if err := json.Unmarshal(m.Data, &c); err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(c.Val)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// window is the subject part "<interval ns>.<window>" of the window that
// ends at end, of interval per.
func window(per time.Duration, end time.Time) string {
	return fmt.Sprintf("%d.%d", per, end.UnixNano()/int64(per)-1)
}

// TestLimitsShowWhatTheServerCounts runs a worker with a type limited to 3
// starts an hour and a backlog of 10, a type limited to 2 starts an hour
// per key with 5, 3 and 1 tasks of three keys, and a type limited to 2
// running per key whose handlers block: Limits shows the starts each
// counter on the server holds, the tasks waiting on each limit, and the
// places the bucket of key places holds.
func TestLimitsShowWhatTheServerCounts(t *testing.T) {
	t.Parallel()
	srv, p, in := setupQueues(t)
	_, js := embeddedtest.Connect(t, srv)
	ctx := context.Background()
	rated := tasks.Define[Job]("limits.rate", tasks.WithRateLimit(3, tasks.MaxRatePer))
	keyed := tasks.Define[Job]("limits.keyrate", tasks.WithKeyRateLimit(2, tasks.MaxRatePer))
	placed := tasks.Define[Job]("limits.places", tasks.WithQueue("tenants"), tasks.WithKeyConcurrency(2))
	plain := tasks.Define[Job]("limits.plain")
	// A window that ends during the test leaves the same to read.
	jetqtest.HoldNextWindow(t, js, rated.Spec(), 3, nil)
	jetqtest.HoldNextWindow(t, js, keyed.Spec(), 0, map[string]int{"acme": 2, "bolt": 2, "cog": 1})
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	for _, def := range []*tasks.Definition[Job]{rated, keyed, plain} {
		tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[Job]) error { return nil })
	}
	tasks.MustHandle(reg, placed, func(ctx context.Context, _ *tasks.Task[Job]) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	runWorker(t, srv, reg, consumer.WithConcurrency(8), consumer.WithPresenceInterval(200*time.Millisecond),
		consumer.WithShutdownTimeout(time.Second)) // hands back the tasks held for an hour's window
	t.Cleanup(func() { close(release) }) // before the worker stops

	for i := range 10 {
		if _, err := producer.Enqueue(ctx, p, rated, Job{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	for key, n := range map[string]int{"acme": 5, "bolt": 3, "cog": 1} {
		for i := range n {
			if _, err := producer.Enqueue(ctx, p, keyed, Job{N: i}, producer.WithKey(key)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, key := range []string{"acme", "acme", "acme", "bolt", ""} {
		opts := []producer.EnqueueOption{}
		if key != "" {
			opts = append(opts, producer.WithKey(key))
		}
		if _, err := producer.Enqueue(ctx, p, placed, Job{}, opts...); err != nil {
			t.Fatal(err)
		}
	}

	// The worker settles into a steady state: 3 of the rate-limited type
	// started and 7 queued; 2+2+1 keyed tasks started and 3+1 held; 2
	// places of acme, 1 of bolt and 1 of the tasks without a key taken.
	want := inspect.Limits{Queue: "default", Task: "limits.keyrate", Workers: 1, KeyRate: &inspect.KeyRateUse{
		Limit: keyed.Spec().KeyRateLimit, Keys: 3, Used: 5, Waiting: 4,
		Top: []inspect.KeyCount{{Key: "acme", Count: 2}, {Key: "bolt", Count: 2}, {Key: "cog", Count: 1}}}}
	var ls []inspect.Limits
	waitFor(t, func() error {
		var err error
		if ls, err = in.Limits(ctx); err != nil {
			return err
		}
		got, _ := json.Marshal(ls)
		if len(ls) != 3 {
			return fmt.Errorf("want 3 limited types: %s", got)
		}
		kr, r, pl := ls[0], ls[1], ls[2]
		if r.Rate == nil || r.Rate.Used != 3 || r.Rate.Waiting != 7 || kr.KeyRate == nil || pl.KeyConcurrency == nil {
			return fmt.Errorf("not settled: %s", got)
		}
		want.KeyRate.WindowEnd = kr.KeyRate.WindowEnd
		if !equalJSON(kr, want) {
			return fmt.Errorf("key rate: %s", got)
		}
		if c := pl.KeyConcurrency; c.Keys != 3 || c.Running != 4 || c.Limit != 2 ||
			!slices.Equal(c.Top, []inspect.KeyCount{{Key: "acme", Count: 2}, {Key: "", Count: 1}, {Key: "bolt", Count: 1}}) {
			return fmt.Errorf("key places: %s", got)
		}
		return nil
	})
	kr, r, pl := ls[0], ls[1], ls[2]
	if r.Queue != "default" || r.Task != "limits.rate" || r.Workers != 1 || r.Rate.Limit != rated.Spec().RateLimit ||
		r.KeyRate != nil || r.KeyConcurrency != nil || pl.Queue != "tenants" || pl.Rate != nil || pl.KeyRate != nil {
		t.Errorf("limits: %+v", ls)
	}

	// What the server holds: the counters of the windows shown, the
	// consumer's pending, the bucket's places.
	per := tasks.MaxRatePer
	// A counter counts every start asked for, granted or not: the starts
	// granted are at most the limit of it.
	if got := serverCounter(t, js, "jetq.rate.t.default.limits.rate."+window(per, r.Rate.WindowEnd)); min(got, 3) != r.Rate.Used {
		t.Errorf("type counter on the server %d (of a limit of 3), Limits says %d", got, r.Rate.Used)
	}
	cons, err := js.Consumer(ctx, "JETQ_TASKS", "default:limits:rate")
	if err != nil {
		t.Fatal(err)
	}
	if n := cons.CachedInfo().NumPending; n != r.Rate.Waiting {
		t.Errorf("consumer pending %d, Limits says %d waiting", n, r.Rate.Waiting)
	}
	for _, k := range kr.KeyRate.Top {
		subject := "jetq.rate.k.default.limits.keyrate." + window(per, kr.KeyRate.WindowEnd) + "." + base64.RawURLEncoding.EncodeToString([]byte(k.Key))
		if got := min(serverCounter(t, js, subject), 2); got != k.Count {
			t.Errorf("key %s: counter on the server %d, Limits says %d", k.Key, got, k.Count)
		}
	}
	kv, err := js.KeyValue(ctx, "JETQ_KEYSLOTS")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	places := map[string]int{}
	for name := range keys.Keys() {
		if key, _, ok := wire.ParseKeySlot("tenants.limits.places.", name); ok {
			places[key]++
		}
	}
	if want := map[string]int{"acme": 2, "bolt": 1, "": 1}; fmt.Sprint(places) != fmt.Sprint(want) {
		t.Errorf("places in the bucket %v, want %v", places, want)
	}

	// One type: the same; a served type without limits has none.
	if one, err := in.Limit(ctx, "tenants", "limits.places"); err != nil || !equalJSON(one.KeyConcurrency, pl.KeyConcurrency) {
		t.Errorf("Limit(tenants, limits.places) = %+v, %v", one, err)
	}
	if one, err := in.Limit(ctx, "default", "limits.plain"); err != nil || one.Workers != 1 || one.Rate != nil || one.KeyRate != nil || one.KeyConcurrency != nil {
		t.Errorf("Limit of a plain type = %+v, %v; want no limits", one, err)
	}
}

func TestLimitBadInput(t *testing.T) {
	t.Parallel()
	_, _, in := setupQueues(t)
	for _, c := range []struct {
		queue, task string
		want        error
		says        string
	}{
		{"Bad Queue", "x", inspect.ErrInvalidQuery, "queue name"},
		{"default", "", inspect.ErrInvalidQuery, "name"},
		{"default", "nobody", inspect.ErrNotFound, "no live worker serves task \"nobody\""},
	} {
		if _, err := in.Limit(context.Background(), c.queue, c.task); !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Limit(%q, %q) = %v; want %v saying %q", c.queue, c.task, err, c.want, c.says)
		}
	}
	if ls, err := in.Limits(context.Background()); err != nil || len(ls) != 0 {
		t.Errorf("Limits with no worker = %+v, %v; want none", ls, err)
	}
}

// equalJSON reports whether a and b marshal alike.
func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestLimitsOfARateStreamWithoutDirectGets reads a key rate limit's
// counters from a rate stream made beforehand without direct gets, which
// workers use as it is: one get a counter.
func TestLimitsOfARateStreamWithoutDirectGets(t *testing.T) {
	t.Parallel()
	srv, p, in := setupQueues(t)
	_, js := embeddedtest.Connect(t, srv)
	ctx := context.Background()
	cfg := ratelimit.StreamConfig(topology.Topology{})
	cfg.AllowDirect = false
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	keyed := tasks.Define[Job]("limits.nodirect", tasks.WithKeyRateLimit(1, tasks.MaxRatePer))
	jetqtest.HoldNextWindow(t, js, keyed.Spec(), 0, map[string]int{"x": 1, "y": 1})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, keyed, func(context.Context, *tasks.Task[Job]) error { return nil })
	runWorker(t, srv, reg, consumer.WithPresenceInterval(200*time.Millisecond), consumer.WithShutdownTimeout(time.Second))
	for _, key := range []string{"x", "x", "y"} {
		if _, err := producer.Enqueue(ctx, p, keyed, Job{}, producer.WithKey(key)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() error {
		l, err := in.Limit(ctx, "default", "limits.nodirect")
		if err != nil {
			return err
		}
		if kr := l.KeyRate; kr == nil || kr.Keys != 2 || kr.Used != 2 || kr.Waiting != 1 ||
			!slices.Equal(kr.Top, []inspect.KeyCount{{Key: "x", Count: 1}, {Key: "y", Count: 1}}) {
			got, _ := json.Marshal(l)
			return fmt.Errorf("not settled: %s", got)
		}
		return nil
	})
}
