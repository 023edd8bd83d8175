package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// TestPauseUnderLoadHoldsThroughWorkerRestarts pauses the queue of e2e.work
// on a three-node cluster of nats-server processes while a producer
// process enqueues 300 tasks a second and two worker processes handle
// them. While the queue is paused one worker is stopped gracefully and
// started again, the other killed and started again, and the producer
// goes on. Then the queue is resumed, and later paused until a moment a
// few seconds ahead.
//
// What holds: once the deliveries made before the pause have settled (the
// handlers running, and the few tasks a worker had prefetched), no task
// is delivered (the consumer's delivered count stays) and no handler
// starts until the resume, across the restarts; every task enqueued is
// handled, none twice. It logs how soon after Resume, and after the end
// of the timed pause, the first task was handled.
//
// It runs on go.mod's nats-server and on the oldest jetq runs on, 2.11.
func TestPauseUnderLoadHoldsThroughWorkerRestarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	current, workerBin, producerBin := binaries(t, dir)
	for _, tc := range []struct{ name, bin string }{
		{"current", current},
		{"v2.11", testkit.NATSServer(t, testkit.OldServerVersion)},
	} {
		t.Run(tc.name, func(t *testing.T) { pauseScenario(t, tc.bin, workerBin, producerBin) })
	}
}

func pauseScenario(t *testing.T, natsServer, workerBin, producerBin string) {
	t.Logf("nats-server %s", natsServer)
	ctx := context.Background()
	dir := t.TempDir()
	_, urls := natsCluster(t, dir, natsServer)
	servers := strings.Join(urls, ",")
	js := connectJS(t, servers, "e2e-pause")
	waitClusterReady(t, js)
	_, in := flowClients(t, js, topology.Topology{Replicas: 3})
	durable := wire.NamesOf(topology.Topology{}).Durable(e2etask.Work.Spec().Queue, e2etask.Work.Spec().Name)
	queue := inspect.Scope{Queue: e2etask.Work.Spec().Queue}

	outs := []string{filepath.Join(dir, "w1.out"), filepath.Join(dir, "w2.out")}
	var workers []*proc
	for i, out := range outs {
		name := fmt.Sprintf("w%d", i+1)
		workers = append(workers, startProc(t, dir, name, workerBin, "-servers", servers, "-out", out, "-name", name, "-concurrency", "8"))
	}
	handled := func() int {
		n := 0
		for _, out := range outs {
			n += len(readLines(t, out))
		}
		return n
	}
	const count, rate = 9000, 300
	enqueued := filepath.Join(dir, "enqueued")
	prod := startProc(t, dir, "producer", producerBin, "-servers", servers, "-out", enqueued,
		"-count", fmt.Sprint(count), "-rate", fmt.Sprint(rate), "-max-work-ms", "5")
	testkit.WaitFor(t, 60*time.Second, func() error {
		if n := handled(); n < 600 {
			return fmt.Errorf("%d tasks handled, waiting for 600", n)
		}
		return nil
	})

	// info reads the consumer of e2e.work.
	info := func() *jetstream.ConsumerInfo {
		t.Helper()
		var ci *jetstream.ConsumerInfo
		testkit.WaitFor(t, 30*time.Second, func() error {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			c, err := js.Consumer(cctx, wire.NamesOf(topology.Topology{}).WorkStream(), durable)
			if err != nil {
				return err
			}
			ci = c.CachedInfo()
			return nil
		})
		return ci
	}
	// settled waits until no delivery of e2e.work is unsettled, and
	// returns the consumer's deliveries and the tasks handled then.
	settled := func() (delivered uint64, done int) {
		t.Helper()
		testkit.WaitFor(t, 30*time.Second, func() error {
			if ci := info(); ci.NumAckPending > 0 {
				return fmt.Errorf("%d deliveries unsettled", ci.NumAckPending)
			}
			return nil
		})
		return info().Delivered.Consumer, handled()
	}

	before := handled()
	if err := in.Pause(ctx, queue, time.Time{}); err != nil {
		t.Fatal(err)
	}
	delivered, atPause := settled()
	t.Logf("paused with %d tasks handled; %d more, delivered before the pause, ran after Pause returned", before, atPause-before)
	pending := info().NumPending

	workers[0].signal(t, syscall.SIGTERM)
	<-workers[0].done
	workers[0].start(t)
	workers[1].signal(t, syscall.SIGKILL)
	workers[1].start(t)
	// Both new workers have created or updated the durable and pull on it,
	// and the producer has enqueued on: two seconds of load at least.
	testkit.WaitFor(t, 60*time.Second, func() error {
		rows, err := in.Queues(ctx)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if r.Task == e2etask.Work.Spec().Name && r.Workers == 2 && r.Pending >= pending+2*rate {
				return nil
			}
		}
		return fmt.Errorf("waiting for both workers and %d more tasks: %+v", 2*rate, rows)
	})
	ci := info()
	if ci.Delivered.Consumer != delivered || !ci.Paused {
		t.Errorf("while paused, across restarts: %d deliveries (was %d), paused %v; want none, paused",
			ci.Delivered.Consumer, delivered, ci.Paused)
	}
	if n := handled(); n != atPause {
		t.Errorf("while paused, across restarts: %d tasks handled, want none", n-atPause)
	}
	t.Logf("paused across the restarts with %d tasks pending", ci.NumPending)

	resumed := time.Now()
	if err := in.Resume(ctx, queue); err != nil {
		t.Fatal(err)
	}
	returned := time.Since(resumed)
	testkit.WaitFor(t, 30*time.Second, func() error {
		if handled() == atPause {
			return fmt.Errorf("nothing handled since the resume")
		}
		return nil
	})
	a := newAccounting()
	for _, out := range outs {
		a.readHandled(t, out)
	}
	t.Logf("resume: Resume returned after %v; first task handled %v after Resume was called", returned, a.firstAfter(resumed))

	// A pause until a moment ahead ends by itself.
	until := time.Now().Add(3 * time.Second)
	if err := in.Pause(ctx, queue, until); err != nil {
		t.Fatal(err)
	}
	delivered, atPause = settled()
	settledAt := time.Now()
	testkit.WaitFor(t, 30*time.Second, func() error {
		if handled() == atPause {
			return fmt.Errorf("nothing handled since the pause until %v", until.Format(time.StampMilli))
		}
		return nil
	})
	a = newAccounting()
	for _, out := range outs {
		a.readHandled(t, out)
	}
	early := 0
	for _, at := range a.at {
		if at.After(settledAt) && at.Before(until) {
			early++
		}
	}
	if early > 0 {
		t.Errorf("%d tasks handled after the pause took hold and before its end", early)
	}
	t.Logf("pause until: first task handled %v after the pause's end (%d deliveries before the pause)", a.firstAfter(until), delivered)

	<-prod.done
	testkit.WaitFor(t, 120*time.Second, func() error {
		if ci := info(); ci.NumPending > 0 || ci.NumAckPending > 0 {
			return fmt.Errorf("%d pending, %d unsettled", ci.NumPending, ci.NumAckPending)
		}
		return nil
	})
	a = newAccounting()
	a.readEnqueued(t, enqueued)
	for _, out := range outs {
		a.readHandled(t, out)
	}
	a.report(t)
	if len(a.enqueued) != count {
		t.Errorf("%d tasks enqueued, want %d", len(a.enqueued), count)
	}
	if d := a.duplicates(); d > 0 {
		t.Errorf("%d tasks handled twice", d)
	}
}
