package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// keyRun is one handler run of the per-key scenario, as e2eworker -keys
// logs it: end is zero for a run whose process was killed before it ended.
type keyRun struct {
	task, id, key, worker string
	attempt               int
	start, end            time.Time
}

// readKeyRuns reads the runs that the e2eworker -keys process named
// worker logged to path.
func readKeyRuns(t *testing.T, worker, path string) []keyRun {
	t.Helper()
	var runs []keyRun
	open := map[string]int{} // id and attempt: index in runs
	for _, line := range readLines(t, path) {
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Fatalf("%s: malformed line %q", path, line)
		}
		at, err := unixNanos(f[4])
		if err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		attempt, err := strconv.Atoi(f[5])
		if err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		run := f[2] + " " + f[5]
		switch f[0] {
		case "start":
			open[run] = len(runs)
			runs = append(runs, keyRun{task: f[1], id: f[2], key: f[3], worker: worker, attempt: attempt, start: at})
		case "end":
			i, ok := open[run]
			if !ok {
				t.Fatalf("%s: %q ends a run that did not start", path, line)
			}
			runs[i].end = at
		default:
			t.Fatalf("%s: malformed line %q", path, line)
		}
	}
	return runs
}

// mostAtOnce is the most of runs that overlap at one instant, each
// running from its start to its end, or, if it has none, to the first of
// kills after its start.
func mostAtOnce(runs []keyRun, kills []time.Time) (most int, when time.Time) {
	type edge struct {
		at time.Time
		d  int
	}
	var edges []edge
	for _, r := range runs {
		end := r.end
		for _, k := range kills {
			if end.IsZero() && k.After(r.start) {
				end = k
			}
		}
		edges = append(edges, edge{r.start, 1}, edge{end, -1})
	}
	// An end and a start at the same instant do not overlap.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.d - b.d
	})
	n := 0
	for _, e := range edges {
		if n += e.d; n > most {
			most, when = n, e.at
		}
	}
	return most, when
}

// TestKeyConcurrencyHoldsWhenAWorkerProcessIsKilled is the per-key
// concurrency scenario: a nats-server process and three worker processes
// (e2eworker -keys, 4 slots each) run 3 keys × 30 tasks of 20 ms with a
// concurrency of 1 per key and 2 keys × 30 with 2 per key, an ack wait of
// 2 s; one worker process is SIGKILLed while it runs a task. What holds:
//
//   - never more than k handlers of one key run at once, counting a killed
//     process's handler as running until its kill;
//   - the killed process's places are not taken again before they lapse:
//     a task of a key of concurrency 1 whose place the killed worker held
//     starts only after the place's last write plus its TTL (the ack
//     wait), the time at which the server may first remove it; nothing
//     renewed the place after the kill, so it frees within the ack wait
//     of the kill;
//   - every task runs to its end, those the kill interrupted on another
//     worker, and the work stream ends empty: nothing is lost.
func TestKeyConcurrencyHoldsWhenAWorkerProcessIsKilled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := flowBinary(t, dir) // e2eworker, run with -keys
	js, url := natsSingle(t, dir, natsServerBinary(t))
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const perKey, workMillis = 30, 20
	type keyed struct {
		def *tasks.Definition[e2etask.Payload]
		key string
	}
	var all []keyed
	for _, k := range []string{"a", "b", "c"} {
		all = append(all, keyed{e2etask.KeyOne, k})
	}
	for _, k := range []string{"x", "y"} {
		all = append(all, keyed{e2etask.KeyTwo, k})
	}
	want := map[string]keyed{}
	for range perKey {
		for _, kd := range all { // interleaved, as tenants' work comes
			r, err := producer.Enqueue(ctx, p, kd.def, e2etask.Payload{WorkMillis: workMillis}, producer.WithKey(kd.key))
			if err != nil {
				t.Fatal(err)
			}
			want[r.ID] = kd
		}
	}

	names := []string{"worker-1", "worker-2", "worker-3"}
	outs := map[string]string{}
	var workers []*proc
	for _, name := range names {
		outs[name] = filepath.Join(dir, name+".txt")
		workers = append(workers, startProc(t, dir, name, bin, "-keys", "-replicas", "1", "-concurrency", "4",
			"-servers", url, "-out", outs[name], "-name", name))
	}

	// SIGKILL worker-1 while it runs a task of a key of concurrency 1. A
	// kill that lands between two of its tasks (the file, read after the
	// kill, shows the run ended) restarts it and tries again.
	var victim keyRun
	var killed time.Time
	var kills []time.Time
	for try := 0; victim.id == ""; try++ {
		if try == 5 {
			t.Fatal("five kills of worker-1 all landed between its tasks")
		}
		if try > 0 {
			workers[0].start(t)
		}
		var running keyRun
		testkit.WaitFor(t, time.Minute, func() error {
			for _, r := range readKeyRuns(t, names[0], outs[names[0]]) {
				if r.end.IsZero() && r.task == e2etask.KeyOne.Name() && !r.start.Before(killed) {
					running = r
					return nil
				}
			}
			return errors.New("worker-1 runs no task of e2e.key.one")
		})
		workers[0].signal(t, syscall.SIGKILL)
		killed = time.Now()
		kills = append(kills, killed)
		for _, r := range readKeyRuns(t, names[0], outs[names[0]]) {
			if r.id == running.id && r.attempt == running.attempt && r.end.IsZero() {
				victim = r
			}
		}
	}
	kv, err := js.KeyValue(ctx, wire.NamesOf(topology.Topology{}).KeySlotsBucket())
	if err != nil {
		t.Fatal(err)
	}
	place := wire.KeySlot(wire.KeySlots(e2etask.KeyOne.Spec(), victim.key), 0)
	left, err := kv.Get(ctx, place)
	if err != nil {
		t.Fatalf("the place %s of key %s, whose task %s died with worker-1: %v", place, victim.key, victim.id, err)
	}
	if left.Created().After(killed) {
		t.Errorf("the place of key %s was written at %v, after worker-1 was killed at %v", victim.key, left.Created(), killed)
	}
	ttl := e2etask.KeyOne.Spec().AckWait
	testkit.WaitFor(t, 30*time.Second, func() error {
		e, err := kv.Get(ctx, place)
		if err == nil && e.Revision() == left.Revision() {
			return fmt.Errorf("the place of key %s is still worker-1's (revision %d)", victim.key, left.Revision())
		}
		return nil
	})
	t.Logf("worker-1 killed running %s (key %s); its place, last written %v before the kill, freed within %v of the kill (TTL %v)",
		victim.id, victim.key, killed.Sub(left.Created()).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond), ttl)

	// Every task ends, on the two workers left.
	ended := func() (map[string]bool, []keyRun) {
		done := map[string]bool{}
		var runs []keyRun
		for _, name := range names {
			for _, r := range readKeyRuns(t, name, outs[name]) {
				runs = append(runs, r)
				if !r.end.IsZero() {
					done[r.id] = true
				}
			}
		}
		return done, runs
	}
	testkit.WaitFor(t, time.Minute, func() error {
		if done, _ := ended(); len(done) < len(want) {
			return fmt.Errorf("%d of %d tasks ended", len(done), len(want))
		}
		return nil
	})
	for _, w := range workers[1:] {
		w.signal(t, syscall.SIGTERM)
	}
	for _, w := range workers[1:] {
		<-w.done
	}
	t.Logf("%d kills of worker-1 until one landed mid-task", len(kills))
	done, runs := ended()
	for id, kd := range want {
		if !done[id] {
			t.Errorf("task %s (%s, key %s) never ended", id, kd.def.Name(), kd.key)
		}
	}
	if n := jetqtest.Msgs(t, js, wire.NamesOf(topology.Topology{}).WorkStream()); n != 0 {
		t.Errorf("the work stream holds %d messages after every task ended, want 0", n)
	}

	byKey := map[string][]keyRun{}
	for _, r := range runs {
		if _, ok := want[r.id]; !ok {
			t.Errorf("a run of task %s, never enqueued", r.id)
		}
		byKey[r.task+" "+r.key] = append(byKey[r.task+" "+r.key], r)
		if r.end.IsZero() && r.worker != names[0] {
			t.Errorf("task %s attempt %d on %s started and never ended on a live worker", r.id, r.attempt, r.worker)
		}
	}
	for tk, rs := range byKey {
		k := e2etask.KeyOne.Spec().KeyConcurrency
		if strings.HasPrefix(tk, e2etask.KeyTwo.Name()) {
			k = e2etask.KeyTwo.Spec().KeyConcurrency
		}
		most, when := mostAtOnce(rs, kills)
		t.Logf("%s: %d runs, at most %d at once", tk, len(rs), most)
		if most > k {
			t.Errorf("%s: %d ran at once at %v, want at most %d", tk, most, when.Format(time.StampMicro), k)
		}
	}
	// The victim's key: no run other than the victim's starts between its
	// start and the place's lapse.
	lapse := left.Created().Add(ttl)
	for _, r := range byKey[victim.task+" "+victim.key] {
		if r.start.After(victim.start) && r.start.Before(lapse) {
			t.Errorf("task %s of key %s started on %s at %v, before the killed worker's place could lapse at %v",
				r.id, r.key, r.worker, r.start.Format(time.StampMicro), lapse.Format(time.StampMicro))
		}
	}
}
