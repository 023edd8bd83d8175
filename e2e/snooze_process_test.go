package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
)

// TestSnoozeSurvivesKilledWorkers: 1 000 tasks each snooze three times on two
// worker processes, one of which is killed with SIGKILL and restarted
// every few hundred milliseconds, mostly while it publishes snoozed
// tasks' copies. Every task finishes, and each from one message only:
// a worker killed between storing a copy and acknowledging its original
// never leaves two runnable messages of a task (the one not to run is
// dropped unrun). Repeats of a finish from the same message are the
// at-least-once redelivery of a worker killed after its handler returned.
func TestSnoozeSurvivesKilledWorkers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	natsBin, workerBin, _ := binaries(t, dir)
	port := freePorts(t, 1)[0]
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	startProc(t, dir, "nats", natsBin, "-js", "-sd", filepath.Join(dir, "store"), "-a", "127.0.0.1", "-p", fmt.Sprint(port))
	var nc *nats.Conn
	testkit.WaitFor(t, 10*time.Second, func() (err error) {
		nc, err = nats.Connect(url)
		return err
	})
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	const count = 1000
	rs, err := producer.EnqueueBatch(ctx, p, e2etask.Snoozy, make([]e2etask.Payload, count))
	if err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(dir, "done.txt")
	worker := func(name string) *proc {
		return startProc(t, dir, name, workerBin, "-servers", url, "-out", out, "-name", name, "-replicas", "1", "-snooze")
	}
	worker("worker-1") // runs throughout
	killed := worker("worker-2")
	kills := 0
	for lineCount(t, out) < count*9/10 && kills < 60 {
		// Fault injection, not synchronisation: a random moment in the
		// killed worker's life.
		time.Sleep(time.Duration(50+rand.IntN(200)) * time.Millisecond)
		killed.signal(t, syscall.SIGKILL)
		kills++
		killed.start(t)
	}
	testkit.WaitFor(t, 90*time.Second, func() error {
		if n := lineCount(t, out); n < count {
			return fmt.Errorf("%d of %d tasks done", n, count)
		}
		return nil
	})
	// Every message of every task is settled once both streams are empty.
	jetqtest.WaitEmpty(t, js, "JETQ_SCHEDULES")
	jetqtest.WaitEmpty(t, js, "JETQ_TASKS")

	finishedBy := map[string]map[string]int{} // task ID: message seq: finishes
	for _, l := range readLines(t, out) {
		f := strings.Fields(l)
		if len(f) != 5 || f[0] != "done" {
			t.Fatalf("bad line %q", l)
		}
		if f[3] != fmt.Sprint(e2etask.Snoozes) {
			t.Errorf("task %s finished after %s snoozes, want %d", f[1], f[3], e2etask.Snoozes)
		}
		if finishedBy[f[1]] == nil {
			finishedBy[f[1]] = map[string]int{}
		}
		finishedBy[f[1]][f[2]]++
	}
	repeats := 0
	for _, r := range rs {
		switch by := finishedBy[r.ID]; {
		case len(by) == 0:
			t.Errorf("task %s never finished", r.ID)
		case len(by) > 1:
			t.Errorf("task %s finished from %d messages %v, want one: two copies of it were runnable", r.ID, len(by), by)
		default:
			for _, n := range by {
				repeats += n - 1
			}
		}
	}
	dropped := 0
	for _, name := range []string{"worker-1", "worker-2"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		dropped += strings.Count(string(b), "dropped a second copy of a task unrun")
	}
	if dropped == 0 {
		t.Errorf("no SIGKILL came between a copy's store and its original's acknowledgement (no second copy dropped): the scenario showed nothing; kill more often")
	}
	t.Logf("%d tasks, %d snoozes each; %d SIGKILLs of worker-2; %d second copies dropped unrun; %d finishes repeated by a redelivery of the same message",
		count, e2etask.Snoozes, kills, dropped, repeats)
}
