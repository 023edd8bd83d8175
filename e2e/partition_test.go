package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// TestProducerCutOffWithTheStreamLeader is issue 24's partition: three
// nats-server processes whose routes all pass through a proxy in this test,
// R3 streams, a producer connected only to node A, which leads the work
// stream, and workers on B and C. Enqueues go out at 100 a second with
// caller-chosen IDs; after 2 s, A is cut off from B and C for 20 s, once
// with its routes held silent and once with them reset. A cut-off leader
// answers a republish with "duplicate message id is in process" (10158)
// until it steps down; the producer must keep trying within its retry
// timeout, not give up after the first ack timeout. Every fourth task goes
// through a producer whose retry timeout is shorter than the cut, to see
// the errors of those that outlast it. Then:
//   - every Enqueue that returned nil is stored: a worker ran it;
//   - every one that failed says it is retryable (producer.ErrRetryable),
//     and its retry with the same ID after the heal stores it;
//   - nothing is stored twice: the stream holds as many messages as IDs.
//
// It logs the stall: the latency of the Enqueues begun during the cut.
func TestProducerCutOffWithTheStreamLeader(t *testing.T) {
	t.Parallel()
	bin := natsServerBinary(t)
	for _, mode := range []cutMode{silent, reset} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			partitionScenario(t, bin, mode, 2*time.Second, 20*time.Second, 100)
		})
	}
}

// partitionScenario runs the scenario: load for before, then node A cut off
// for cut in mode, then load for 3 s more; rate Enqueues a second.
func partitionScenario(t *testing.T, bin string, mode cutMode, before, cut time.Duration, rate int) {
	ctx := context.Background()
	dir := t.TempDir()
	urls, proxy := proxiedCluster(t, dir, bin)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	connect := func(name string, nodes ...int) jetstream.JetStream {
		t.Helper()
		var servers []string
		for _, n := range nodes {
			servers = append(servers, urls[n])
		}
		// Only the nodes named: the servers do not advertise the others
		// (cluster no_advertise), and the client ignores any it hears of.
		return connectJS(t, strings.Join(servers, ","), name, nats.IgnoreDiscoveredServers())
	}
	setup := connect("setup", 0, 1, 2)
	waitClusterReady(t, setup)
	sp, err := producer.New(setup, producer.WithTopology(topology.Topology{Replicas: 3}), producer.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	// The producer connects to the work stream's leader alone. A leader
	// can move on a loaded machine: connect again until it stays put.
	var (
		leader string
		a      int
		p      *producer.Producer
		short  *producer.Producer // a retry timeout shorter than the cut
	)
	for try := 1; ; try++ {
		leader = streamLeader(t, setup, "JETQ_TASKS")
		a = slices.Index([]string{"n1", "n2", "n3"}, leader)
		pjs := connect("producer", a)
		if p, err = producer.New(pjs, producer.WithTopology(topology.Topology{Replicas: 3}), producer.WithLogger(log)); err != nil {
			t.Fatal(err)
		}
		if short, err = producer.New(pjs, producer.WithTopology(topology.Topology{Replicas: 3}), producer.WithLogger(log), producer.WithRetryTimeout(shortRetry)); err != nil {
			t.Fatal(err)
		}
		if err := p.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		if l := streamLeader(t, setup, "JETQ_TASKS"); l == leader {
			break
		} else if try == 5 {
			t.Fatalf("JETQ_TASKS leader keeps moving: %s, then %s", leader, l)
		}
		pjs.Conn().Close()
	}
	others := []int{(a + 1) % 3, (a + 2) % 3}
	t.Logf("%s leads JETQ_TASKS: the producer connects to it alone; workers to the other two", leader)

	// Workers on B and C record every run: a task's first run has attempt
	// 1, and a second copy stored would run at attempt 1 again.
	var mu sync.Mutex
	runs := map[string][]int{} // task ID → attempts run
	for i, node := range others {
		reg := tasks.NewRegistry()
		tasks.MustHandle(reg, e2etask.Work, func(ctx context.Context, tk *tasks.Task[e2etask.Payload]) error {
			mu.Lock()
			runs[tk.ID] = append(runs[tk.ID], tk.Attempt)
			mu.Unlock()
			return nil
		})
		w, err := consumer.New(connect(fmt.Sprintf("worker-%d", i+1), node), reg, consumer.WithTopology(topology.Topology{Replicas: 3}),
			consumer.WithConcurrency(16), consumer.WithLogger(log))
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = w.Run(wctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}

	type outcome struct {
		id         string
		short      bool // enqueued by short
		start, end time.Time
		err        error
	}
	n := int((before + cut + 3*time.Second).Seconds()) * rate
	outcomes := make([]outcome, n)
	var wg sync.WaitGroup
	start := time.Now()
	cutAt, healAt := start.Add(before), start.Add(before+cut)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	cutDone, healed := false, false
	for i := range n {
		<-tick.C
		if now := time.Now(); !cutDone && !now.Before(cutAt) {
			proxy.cut(a, mode)
			cutDone, cutAt = true, now
			t.Logf("%s: %s cut off (%s) at task %d", now.Format("15:04:05.000"), leader, mode, i)
		}
		if now := time.Now(); cutDone && !healed && !now.Before(healAt) {
			proxy.heal()
			healed, healAt = true, now
			t.Logf("%s: healed at task %d", now.Format("15:04:05.000"), i)
		}
		outcomes[i].id = fmt.Sprintf("%s-%05d", mode, i)
		outcomes[i].short = i%4 == 3
		wg.Go(func() {
			o := &outcomes[i]
			o.start = time.Now()
			via := p
			if o.short {
				via = short
			}
			_, o.err = producer.Enqueue(ctx, via, e2etask.Work, e2etask.Payload{}, producer.WithID(o.id))
			o.end = time.Now()
		})
	}
	tick.Stop()
	wg.Wait()
	t.Logf("%s leads JETQ_TASKS once every Enqueue returned", streamLeader(t, setup, "JETQ_TASKS"))

	// Every failure is retryable, and its retry with the same ID stores it.
	var failed, stored []string
	kinds := map[string]int{}
	var stall []time.Duration
	for _, o := range outcomes {
		if !o.short && !o.start.Before(cutAt) && o.start.Before(healAt) {
			stall = append(stall, o.end.Sub(o.start))
		}
		if o.err == nil {
			stored = append(stored, o.id)
			continue
		}
		failed = append(failed, o.id)
		k := kind(o.err)
		if kinds[k]++; kinds[k] == 1 {
			t.Logf("first failure of its kind: %s after %v: %v", o.id, o.end.Sub(o.start).Round(time.Millisecond), o.err)
		}
		if !errors.Is(o.err, producer.ErrRetryable) {
			t.Errorf("Enqueue %s failed after %v with %v, want a retryable error (producer.ErrRetryable)",
				o.id, o.end.Sub(o.start).Round(time.Millisecond), o.err)
		}
	}
	t.Logf("%d Enqueues, %d stored, %d failed %v", n, len(stored), len(failed), kinds)
	t.Logf("Enqueue latency of the %d with the default retry timeout begun during the %v cut: %s", len(stall), healAt.Sub(cutAt).Round(time.Millisecond), quantiles(stall))
	for _, id := range failed {
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		_, err := producer.Enqueue(rctx, p, e2etask.Work, e2etask.Payload{}, producer.WithID(id))
		cancel()
		if err != nil {
			t.Errorf("retry of %s after the heal: %v", id, err)
		}
	}

	// Everything acknowledged ran, once stored.
	testkit.WaitFor(t, 60*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range outcomes {
			if len(runs[o.id]) == 0 {
				return fmt.Errorf("task %s (Enqueue: %v) never ran; %d of %d ran", o.id, o.err, len(runs), n)
			}
		}
		return nil
	})
	mu.Lock()
	for id, attempts := range runs {
		if first := count(attempts, 1); first > 1 {
			t.Errorf("task %s ran at attempt 1 %d times (attempts %v): stored twice", id, first, attempts)
		}
	}
	mu.Unlock()
	s, err := setup.Stream(ctx, "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	if last := s.CachedInfo().State.LastSeq; last != uint64(n) {
		t.Errorf("JETQ_TASKS stored %d messages for %d task IDs, want one each", last, n)
	}
}

func count(s []int, v int) (n int) {
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// shortRetry is the retry timeout of the scenario's second producer:
// shorter than the cut, longer than the ack timeout.
const shortRetry = 8 * time.Second

// kind names an Enqueue error's sort for the log, without its task ID.
func kind(err error) string {
	s := err.Error()
	switch {
	case errors.Is(err, producer.ErrUnavailable):
		s, _, _ = strings.Cut(strings.TrimPrefix(s, producer.ErrUnavailable.Error()+": "), ";")
	case len(s) > 80:
		s = s[:80]
	}
	return s
}

// quantiles gives p50, p99 and max of ds.
func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration {
		return ds[min(len(ds)-1, int(p*float64(len(ds))))].Round(time.Millisecond)
	}
	return fmt.Sprintf("p50 %v, p99 %v, max %v", q(0.50), q(0.99), ds[len(ds)-1].Round(time.Millisecond))
}

// proxiedCluster starts three nats-server processes forming one JetStream
// cluster whose routes all pass through a [routeProxy]. It returns the
// nodes' client URLs and the proxy.
func proxiedCluster(t *testing.T, dir, bin string) ([]string, *routeProxy) {
	t.Helper()
	proxy := newRouteProxy(t, 3)
	ports := freePorts(t, 7)
	var targets []string
	for i := range 3 {
		targets = append(targets, fmt.Sprintf("127.0.0.1:%d", ports[3+i]))
	}
	proxy.route(targets)
	var urls []string
	for i := range 3 {
		name := fmt.Sprintf("n%d", i+1)
		var routes []string
		for j := range 3 {
			if j != i {
				routes = append(routes, "nats-route://"+proxy.addrs[i][j])
			}
		}
		// A peer learns of the others from the routes' INFO and would
		// connect to them directly; advertising a closed port keeps every
		// route on the proxy.
		conf := filepath.Join(dir, name+".conf")
		err := os.WriteFile(conf, []byte(fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
jetstream { store_dir: %q, max_memory_store: 256MB, max_file_store: 4GB }
cluster { name: e2e, listen: %s, advertise: "127.0.0.1:%d", no_advertise: true, routes: [%s] }
`, name, ports[i], filepath.Join(dir, name), targets[i], ports[6], strings.Join(routes, ", "))), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		startProc(t, dir, name, bin, "-c", conf)
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	return urls, proxy
}
