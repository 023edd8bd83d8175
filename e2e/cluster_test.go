package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// TestClusterSurvivesStreamLeaderLoss is scenario 1: a 3-node cluster in
// this process, replicated (R3) streams, 20 000 tasks, two workers connected
// to different nodes. The node leading the work stream is shut down mid-run
// and later restarted; every task is accounted for at the end.
func TestClusterSurvivesStreamLeaderLoss(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := embeddedtest.Cluster(t, 3)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	connect := func(first int) jetstream.JetStream { return connectPreferring(t, cl, first, "client") }

	const count = 20_000
	a := newAccounting()
	var mu sync.Mutex
	all := make(chan struct{})
	var once sync.Once
	started := make(chan struct{})
	var startOnce sync.Once
	for i, node := range []int{1, 2} {
		reg := tasks.NewRegistry()
		tasks.MustHandle(reg, e2etask.Work, func(ctx context.Context, tk *tasks.Task[e2etask.Payload]) error {
			mu.Lock()
			a.record(tk.ID, time.Now())
			distinct := len(a.handled)
			mu.Unlock()
			if distinct >= count/10 {
				startOnce.Do(func() { close(started) })
			}
			if distinct == count {
				once.Do(func() { close(all) })
			}
			return nil
		})
		w, err := consumer.New(connect(node), reg, consumer.WithTopology(topology.Topology{Replicas: 3}), consumer.WithConcurrency(16),
			consumer.WithLogger(log.With("worker", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = w.Run(wctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}

	pjs := connect(0)
	p, err := producer.New(pjs, producer.WithTopology(topology.Topology{Replicas: 3}), producer.WithLogger(log.With("producer", 1)))
	if err != nil {
		t.Fatal(err)
	}
	// Enqueue in batches while the fault happens; retry what is not stored.
	enqueued := make(chan error, 1)
	go func() {
		const batch = 500
		for start := 0; start < count; start += batch {
			ids := make([]string, batch)
			for i := range ids {
				ids[i] = fmt.Sprintf("c-%05d", start+i)
			}
			payloads := make([]e2etask.Payload, batch)
			for attempt := 0; len(ids) > 0; attempt++ {
				if attempt == 20 {
					enqueued <- fmt.Errorf("tasks not stored after %d attempts", attempt)
					return
				}
				rs, _ := producer.EnqueueBatch(ctx, p, e2etask.Work, payloads, producer.WithIDs(ids...))
				var left []string
				for i, id := range ids {
					if rs != nil && rs[i].Err == nil {
						mu.Lock()
						a.enqueued[id] = true
						mu.Unlock()
						continue
					}
					left = append(left, id)
				}
				ids, payloads = left, payloads[:len(left)]
			}
		}
		enqueued <- nil
	}()

	select {
	case <-started:
	case <-time.After(60 * time.Second):
		t.Fatal("work did not start")
	}
	leader, err := cl.StreamLeader(ctx, "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	cl.Node(leader).Shutdown()
	mu.Lock()
	handled := len(a.handled)
	mu.Unlock()
	t.Logf("shut down node %d, the work stream's leader, after %d tasks", leader, handled)

	// The node stays down while the rest of the batch is enqueued and handled.
	time.Sleep(3 * time.Second)
	if err := cl.Restart(ctx, leader); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	t.Logf("restarted node %d", leader)

	if err := <-enqueued; err != nil {
		t.Fatal(err)
	}
	select {
	case <-all:
	case <-time.After(120 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	a.readDLQ(t, pjs)
	a.report(t)
	if len(a.enqueued) != count {
		t.Errorf("enqueued %d, want %d", len(a.enqueued), count)
	}
	slicesSort(a)
	t.Logf("processing resumed %v after the leader's node shut down (longest pause in the next 20 s: %v) and %v after its restart",
		a.firstAfter(down).Round(time.Millisecond), a.longestGap(down, down.Add(20*time.Second)).Round(time.Millisecond),
		a.firstAfter(back).Round(time.Millisecond))
}

// connectPreferring connects to cl preferring node first and failing over
// to the others, as a client of a real deployment lists every node.
func connectPreferring(t *testing.T, cl *embedded.Cluster, first int, name string) jetstream.JetStream {
	t.Helper()
	urls := cl.ClientURLs()
	return connectJS(t, strings.Join(append([]string{urls[first]}, urls...), ","), fmt.Sprintf("%s-%d", name, first))
}
