package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// delayedLedger is the ledger of a delayed-task scenario: when each task was
// due at the earliest, and every run of it.
type delayedLedger struct {
	mu   sync.Mutex
	due  map[string]time.Time // earliest allowed start, per ID
	runs map[string][]delayedRun
}

// delayedRun is one run of a delayed task.
type delayedRun struct {
	at      time.Time
	attempt int
	// source is the work stream's Nats-Stream-Source header: the schedule
	// stream and the sequence there of the fired message it copied.
	source string
}

func newDelayedLedger() *delayedLedger {
	return &delayedLedger{due: map[string]time.Time{}, runs: map[string][]delayedRun{}}
}

// planned records that task id is due at due; the time is taken before the
// enqueue call, so the task's own due time is never earlier.
func (l *delayedLedger) planned(id string, due time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.due[id] = due
}

// ran records a run of task id.
func (l *delayedLedger) ran(id string, r delayedRun) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs[id] = append(l.runs[id], r)
}

// distinct is how many different tasks have run.
func (l *delayedLedger) distinct() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.runs)
}

// lastDue is when the last planned task is due.
func (l *delayedLedger) lastDue() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last time.Time
	for _, d := range l.due {
		if d.After(last) {
			last = d
		}
	}
	return last
}

// waitRuns waits until n different tasks have run, for at most within, and
// reports whether they did.
func (l *delayedLedger) waitRuns(n int, within time.Duration) bool {
	return testkit.Poll(within, func() error {
		if got := l.distinct(); got < n {
			return fmt.Errorf("%d of %d tasks ran", got, n)
		}
		return nil
	}) == nil
}

// perSecond counts the runs that started in each second after from, up to
// the last run.
func (l *delayedLedger) perSecond(from time.Time) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for _, rs := range l.runs {
		for _, r := range rs {
			i := max(int(r.at.Sub(from)/time.Second), 0)
			for len(out) <= i {
				out = append(out, 0)
			}
			out[i]++
		}
	}
	return out
}

// handler records every run in l.
func (l *delayedLedger) handler() tasks.HandlerFunc[e2etask.Payload] {
	return func(ctx context.Context, tk *tasks.Task[e2etask.Payload]) error {
		l.ran(tk.ID, delayedRun{at: time.Now(), attempt: tk.Attempt, source: tk.Header.Get("Nats-Stream-Source")})
		return nil
	}
}

// check logs the counts and fails t for any task that was fired or copied
// twice, never ran, ran before its time, or was never enqueued; runs again
// after a lost acknowledgement are counted. Each extra run is classified:
// a redelivery of the same work-stream message (attempt > 1), a second copy
// of the same fired message (same source sequence), or a second firing of
// the schedule (another source sequence). from is the start of the
// scenario, for the times logged.
func (l *delayedLedger) check(t *testing.T, from time.Time) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var runs, dups, redelivered, copied, refired int
	var missing, duplicated, early, unknown []string
	var earliest time.Duration // how far the earliest run was before its due time
	var lateness []time.Duration
	for id, due := range l.due {
		rs := l.runs[id]
		runs += len(rs)
		if len(rs) == 0 {
			missing = append(missing, id)
			continue
		}
		first := rs[0].at
		for i, r := range rs {
			if r.at.Before(first) {
				first = r.at
			}
			// The server compares wall clocks; so does this check.
			if d := due.Round(0).Sub(r.at.Round(0)); d > 0 {
				early = append(early, id)
				earliest = max(earliest, d)
			}
			if i == 0 {
				continue
			}
			switch {
			case r.attempt > 1:
				redelivered++
			case r.source == rs[0].source:
				copied++
			default:
				refired++
			}
		}
		if len(rs) > 1 {
			dups += len(rs) - 1
			duplicated = append(duplicated, id)
		}
		lateness = append(lateness, first.Sub(due))
	}
	for id := range l.runs {
		if _, ok := l.due[id]; !ok {
			unknown = append(unknown, id)
		}
	}
	slices.Sort(missing)
	slices.Sort(duplicated)
	slices.Sort(early)
	slices.Sort(lateness)
	t.Logf("delayed tasks: %d enqueued, %d ran (%d runs), %d duplicates, %d missing, %d early; first run after due: %s",
		len(l.due), len(l.runs)-len(unknown), runs, dups, len(missing), len(early), percentiles(lateness))
	if len(duplicated) > 0 {
		// A redelivery is the worker's at-least-once: an acknowledgement
		// that a replicated consumer's leader had not yet agreed with its
		// followers is lost with it, and the task runs again, delayed or
		// not (TestClusterSurvivesStreamLeaderLoss counts the same). What
		// schedules add must never happen: a fired task copied twice into
		// the work stream, or a schedule firing twice.
		report := t.Logf
		if copied+refired > 0 {
			report = t.Errorf
		}
		report("%d tasks ran more than once (%d extra runs: %d redelivered after an acknowledgement was lost, %d copied twice from one fired message, %d fired twice), first: %v",
			len(duplicated), dups, redelivered, copied, refired, duplicated[:min(len(duplicated), 10)])
		for _, id := range duplicated[:min(len(duplicated), 5)] {
			for _, r := range l.runs[id] {
				t.Logf("  %s due at %v: ran at %v, attempt %d, from %q", id, l.due[id].Sub(from).Round(time.Millisecond),
					r.at.Sub(from).Round(time.Millisecond), r.attempt, r.source)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d tasks never ran, first: %v", len(missing), missing[:min(len(missing), 10)])
	}
	if len(early) > 0 {
		t.Errorf("%d tasks ran before their time (up to %v early), first: %v", len(early), earliest, early[:min(len(early), 10)])
	}
	if len(unknown) > 0 {
		t.Errorf("%d tasks ran that were never enqueued, first: %v", len(unknown), unknown[:min(len(unknown), 10)])
	}
}

// enqueue enqueues count delayed tasks in batches of batch, with IDs from
// the format idf and batch k due delay(k) after its enqueue, and plans each.
func (l *delayedLedger) enqueue(ctx context.Context, t *testing.T, p *producer.Producer, idf string, count, batch int, delay func(k int) time.Duration) {
	t.Helper()
	for k := range count / batch {
		d := delay(k)
		ids := make([]string, batch)
		for i := range ids {
			ids[i] = fmt.Sprintf(idf, k*batch+i)
		}
		before := time.Now()
		rs, err := producer.EnqueueBatch(ctx, p, e2etask.Work, make([]e2etask.Payload, batch),
			producer.WithDelay(d), producer.WithIDs(ids...))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Stream != "JETQ_SCHEDULES" || r.Duplicate {
				t.Fatalf("task %s: stored in %q (duplicate %v), want a new schedule in JETQ_SCHEDULES", r.ID, r.Stream, r.Duplicate)
			}
			l.planned(r.ID, before.Add(d))
		}
	}
}

// lateness is how long after due the tasks due between from and to first
// ran, sorted.
func (l *delayedLedger) lateness(from, to time.Time) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for id, due := range l.due {
		if due.Before(from) || due.After(to) || len(l.runs[id]) == 0 {
			continue
		}
		first := l.runs[id][0].at
		for _, r := range l.runs[id] {
			if r.at.Before(first) {
				first = r.at
			}
		}
		out = append(out, first.Sub(due))
	}
	slices.Sort(out)
	return out
}

// delayedStreamMsgs is how many messages stream holds.
func delayedStreamMsgs(ctx context.Context, js jetstream.JetStream, stream string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	return s.CachedInfo().State.Msgs, nil
}

// delayedNotFired is how many delayed tasks wait in the schedule stream,
// not yet fired.
func delayedNotFired(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "JETQ_SCHEDULES")
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("jetq.sched.at.>"))
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}

// dumpScheduling logs what every running node of cl holds of the schedule
// and work streams: state, the work stream's source, and the consumers.
func dumpScheduling(t *testing.T, cl *embedded.Cluster) {
	t.Helper()
	dumpNodes(t, cl.Nodes())
}

// dumpNodes logs what each of nodes holds of the schedule and work streams,
// as dumpScheduling does.
func dumpNodes(t *testing.T, nodes []*embedded.Server) {
	t.Helper()
	for i, n := range nodes {
		jsz, err := n.NATS().Jsz(&server.JSzOptions{Accounts: true, Streams: true, Consumer: true})
		if err != nil {
			t.Logf("node %d: %v", i, err)
			continue
		}
		for _, acc := range jsz.AccountDetails {
			for _, sd := range acc.Streams {
				if sd.Name != "JETQ_SCHEDULES" && sd.Name != "JETQ_TASKS" {
					continue
				}
				leader := ""
				if sd.Cluster != nil {
					leader = sd.Cluster.Leader
				}
				line := fmt.Sprintf("node %d %s (leader %s): %d msgs, seq %d..%d", i, sd.Name, leader,
					sd.State.Msgs, sd.State.FirstSeq, sd.State.LastSeq)
				for _, src := range sd.Sources {
					line += fmt.Sprintf("; source %s lag %d active %v error %v", src.Name, src.Lag, src.Active, src.Error)
				}
				for _, ci := range sd.Consumer {
					line += fmt.Sprintf("; consumer %s delivered %d ack floor %d pending %d ack pending %d redelivered %d push bound %v",
						ci.Name, ci.Delivered.Stream, ci.AckFloor.Stream, ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.PushBound)
				}
				t.Log(line)
			}
		}
	}
}

// schedulingLeaders names the nodes that lead the schedule and work streams
// and their consumers, as the first running node sees them.
func schedulingLeaders(cl *embedded.Cluster) string {
	index := map[string]int{}
	for i, n := range cl.Nodes() {
		index[n.NATS().Name()] = i
	}
	name := func(ci *server.ClusterInfo) string {
		if ci == nil || ci.Leader == "" {
			return "none"
		}
		return fmt.Sprintf("node %d", index[ci.Leader])
	}
	for _, n := range cl.Nodes() {
		jsz, err := n.NATS().Jsz(&server.JSzOptions{Accounts: true, Streams: true, Consumer: true})
		if err != nil {
			continue
		}
		var out []string
		for _, acc := range jsz.AccountDetails {
			for _, sd := range acc.Streams {
				if sd.Name != "JETQ_SCHEDULES" && sd.Name != "JETQ_TASKS" {
					continue
				}
				out = append(out, sd.Name+" "+name(sd.Cluster))
				for _, ci := range sd.Consumer {
					out = append(out, sd.Name+">"+ci.Name+" "+name(ci.Cluster))
				}
			}
		}
		slices.Sort(out)
		return strings.Join(out, ", ")
	}
	return "no node answers"
}

// delayedDrained waits until the schedule and work streams hold no
// message, every schedule fired and every fired task settled, for at most
// within; it returns why they do not.
func delayedDrained(js jetstream.JetStream, within time.Duration) error {
	return testkit.Poll(within, func() error {
		for _, stream := range []string{"JETQ_SCHEDULES", "JETQ_TASKS"} {
			n, err := delayedStreamMsgs(context.Background(), js, stream)
			if err != nil {
				return fmt.Errorf("stream %s: %w", stream, err)
			}
			if n > 0 {
				return fmt.Errorf("stream %s holds %d messages", stream, n)
			}
		}
		return nil
	})
}

// TestDelayedTasksSurviveRestart: delayed tasks enqueued on a single node
// with file storage, the node and its worker stopped before any is due and
// started again on the same store dir after all are due. The schedules fire
// after the restart, each task runs once and none before its time.
func TestDelayedTasksSurviveRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	log := testkit.Logger(t).With("test", "restart")
	const count = 200

	var srv *embedded.Server // the running node
	start := func() (jetstream.JetStream, func()) {
		var err error
		srv, err = embedded.Start(ctx, embedded.WithStoreDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		nc, err := srv.Connect()
		if err != nil {
			srv.Shutdown()
			t.Fatal(err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			srv.Shutdown()
			t.Fatal(err)
		}
		return js, func() { nc.Close(); srv.Shutdown() }
	}
	l := newDelayedLedger()
	runWorker := func(js jetstream.JetStream) func() {
		reg := tasks.NewRegistry()
		tasks.MustHandle(reg, e2etask.Work, l.handler())
		w, err := consumer.New(js, reg, consumer.WithLogger(log), consumer.WithConcurrency(8))
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.Run(wctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker: %v", err)
			}
		}
	}

	// Before the restart: a worker runs while every task is enqueued with a
	// delay of 5 to 7 s, room enough to enqueue them all and stop the node
	// before the first is due on a loaded machine (2 s was not).
	js, stopServer := start()
	stopWorker := runWorker(js)
	p, err := producer.New(js, producer.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	const firstDue = 5 * time.Second
	began := time.Now()
	for i := range count {
		id := fmt.Sprintf("dr-%03d", i)
		d := firstDue + time.Duration(i)*2*time.Second/count
		before := time.Now()
		r, err := producer.Enqueue(ctx, p, e2etask.Work, e2etask.Payload{}, producer.WithDelay(d), producer.WithID(id))
		if err != nil {
			t.Fatal(err)
		}
		if r.Stream != "JETQ_SCHEDULES" || r.Duplicate {
			t.Fatalf("task %s: stored in %q (duplicate %v), want a new schedule in JETQ_SCHEDULES", id, r.Stream, r.Duplicate)
		}
		l.planned(id, before.Add(d))
	}
	s, err := js.Stream(ctx, "JETQ_SCHEDULES")
	if err != nil {
		t.Fatal(err)
	}
	if info := s.CachedInfo(); info.Config.Storage != jetstream.FileStorage || info.State.Msgs != count {
		t.Fatalf("JETQ_SCHEDULES: storage %v with %d messages, want file storage with %d", info.Config.Storage, info.State.Msgs, count)
	}
	stopWorker()
	stopServer()
	down := time.Now()
	if n := l.distinct(); n > 0 || down.Sub(began) >= firstDue {
		t.Fatalf("%d tasks ran before the node stopped, %v after the first enqueue: the restart would prove nothing",
			n, down.Sub(began).Round(time.Millisecond))
	}
	t.Logf("enqueued %d delayed tasks and stopped the node %v after the first", count, down.Sub(began).Round(time.Millisecond))

	// Every task is due while the node is down.
	time.Sleep(time.Until(l.lastDue().Add(500 * time.Millisecond)))

	// After the restart: the same store dir, a new worker.
	js, stopServer = start()
	defer stopServer()
	back := time.Now()
	stopWorker = runWorker(js)
	if l.waitRuns(count, 20*time.Second) {
		t.Logf("all %d ran within %v of starting the node again", count, time.Since(back).Round(time.Millisecond))
		if err := delayedDrained(js, 10*time.Second); err != nil {
			t.Errorf("10 s after every task ran: %v", err)
		}
	} else {
		t.Errorf("%d of %d delayed tasks ran within 20 s of the restart", l.distinct(), count)
		// Fired tasks waiting in JETQ_SCHEDULES behind a source consumer
		// that is not push bound are the work stream's sourcing stalled,
		// not the worker.
		dumpNodes(t, []*embedded.Server{srv})
	}
	time.Sleep(time.Second) // room for a second run to show
	stopWorker()
	l.check(t, began)
}

// TestDelayedTasksSurviveStreamLeaderLoss: a 3-node cluster, R3 streams,
// delayed tasks due over 1 to 6 s with two workers running. While schedules
// are pending, the node leading the schedule stream is shut down and
// restarted, then the node leading the work stream. Every task runs, none
// before its time, and no schedule fires or is copied twice; a task whose
// acknowledgement was lost with a consumer's leader runs again, and is
// counted.
func TestDelayedTasksSurviveStreamLeaderLoss(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := embeddedtest.Cluster(t, 3)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	connect := func(first int) jetstream.JetStream { return connectPreferring(t, cl, first, "delayed-client") }

	const count = 500
	l := newDelayedLedger()
	for i, node := range []int{1, 2} {
		reg := tasks.NewRegistry()
		tasks.MustHandle(reg, e2etask.Work, l.handler())
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
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	// 100 batches of 5, delays from 1 s to 5.95 s in steps of 50 ms.
	began := time.Now()
	l.enqueue(ctx, t, p, "dc-%03d", count, 5, func(k int) time.Duration { return time.Second + time.Duration(k)*50*time.Millisecond })
	t.Logf("enqueued %d delayed tasks in %v", count, time.Since(began).Round(time.Millisecond))

	// lose shuts down the node leading stream, keeps it down for a while and
	// starts it again.
	lose := func(stream string, downFor time.Duration) {
		var leader int
		testkit.WaitFor(t, 20*time.Second, func() error {
			lctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			var err error
			leader, err = cl.StreamLeader(lctx, stream)
			return err
		})
		pending, err := delayedNotFired(ctx, pjs)
		if err != nil {
			t.Fatal(err)
		}
		leaders := schedulingLeaders(cl)
		cl.Node(leader).Shutdown()
		t.Logf("%v: shut down node %d, the leader of %s, with %d delayed tasks run and %d not yet fired (leaders: %s)",
			time.Since(began).Round(time.Millisecond), leader, stream, l.distinct(), pending, leaders)
		time.Sleep(downFor)
		if err := cl.Restart(ctx, leader); err != nil {
			t.Fatal(err)
		}
		t.Logf("%v: restarted node %d", time.Since(began).Round(time.Millisecond), leader)
	}

	// The first tasks come due and run, then the schedule stream loses its
	// leader while most of them are pending.
	testkit.WaitFor(t, 20*time.Second, func() error {
		if n := l.distinct(); n < 10 {
			return fmt.Errorf("%d delayed tasks ran", n)
		}
		return nil
	})
	lose("JETQ_SCHEDULES", 2*time.Second)
	lose("JETQ_TASKS", 2*time.Second)

	// A work stream whose new leader asks for its source consumer while
	// that consumer has no leader waits 30 s for an answer before it asks
	// again: sourcing can resume 40 to 50 s after the fault.
	if l.waitRuns(count, 55*time.Second) {
		t.Logf("%v: all %d ran", time.Since(began).Round(time.Millisecond), count)
		if err := cl.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		if err := delayedDrained(pjs, 20*time.Second); err != nil {
			t.Errorf("20 s after every task ran: %v", err)
		}
	} else {
		t.Errorf("%d of %d delayed tasks ran within 55 s of the faults", l.distinct(), count)
	}
	time.Sleep(3 * time.Second) // room for a redelivery (ack wait 2 s) or a second firing to show
	t.Logf("runs per second after the first enqueue: %v", l.perSecond(began))
	l.check(t, began)
	if t.Failed() {
		if n, err := delayedNotFired(ctx, pjs); err == nil {
			t.Logf("%d delayed tasks not yet fired", n)
		}
		dumpScheduling(t, cl)
	}
}
