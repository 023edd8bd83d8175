package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/topology"
)

// TestResultWakesInAnotherProcess measures how soon inspect.Result returns
// in this process after a worker in another process (e2eworker -flow) settles the
// task, on a nats-server process. Eight callers each enqueue a task that
// works 20 ms and at once wait for its result, 1 000 tasks in all
// (JETQ_E2E_RESULTS sets the count). Each result must be the task's own;
// the log gives the time from the settlement (the final record's
// UpdatedAt, written by the worker) to Result's return, p50/p99, over the
// calls that were waiting before the settlement, and the same from the
// handler's return. The figures are reported, not asserted.
func TestResultWakesInAnotherProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := envCount(t, "JETQ_E2E_RESULTS", 1000, 10, "tasks")
	dir := t.TempDir()
	natsBin, flowBin := natsServerBinary(t), flowBinary(t, dir)
	js, url := natsSingle(t, dir, natsBin)
	p, in := flowClients(t, js, topology.Topology{})
	out := filepath.Join(dir, "worker.txt")
	startProc(t, dir, "worker", flowBin, "-flow", "-servers", url, "-out", out, "-name", "worker", "-replicas", "1", "-concurrency", "16")

	type call struct {
		id          string
		called, got time.Time
	}
	calls := make([]call, n)
	const callers = 8
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Go(func() {
			for i := c; i < n; i += callers {
				id := fmt.Sprintf("echo-%04d", i)
				if _, err := producer.Enqueue(ctx, p, e2etask.Echo(), e2etask.EchoArgs{N: i, WorkMillis: 20}, producer.WithID(id)); err != nil {
					errs <- fmt.Errorf("enqueue %s: %w", id, err)
					return
				}
				rctx, cancel := context.WithTimeout(ctx, time.Minute)
				called := time.Now()
				v, err := inspect.Result(rctx, in, e2etask.Echo(), id)
				got := time.Now()
				cancel()
				if err != nil {
					errs <- fmt.Errorf("result of %s: %w", id, err)
					return
				}
				if v != 2*i {
					errs <- fmt.Errorf("result of %s is %d, want %d", id, v, 2*i)
					return
				}
				calls[i] = call{id, called, got}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	l := readFlowLogs(t, out)
	var fromRecord, fromHandler []time.Duration
	late := 0
	for _, c := range calls {
		lk, err := in.Find(ctx, c.id)
		if err != nil {
			t.Fatalf("find %s: %v", c.id, err)
		}
		if lk.Status == nil || lk.Status.State != status.Done {
			t.Fatalf("%s: status %+v, want done", c.id, lk.Status)
		}
		settled := lk.Status.UpdatedAt
		if !c.called.Before(settled) {
			late++ // the record was there before the call: no wake-up to time
			continue
		}
		fromRecord = append(fromRecord, c.got.Sub(settled))
		if end, ok := l.echoes[c.id]; ok {
			fromHandler = append(fromHandler, c.got.Sub(end))
		}
	}
	r50, r99, rmx := spread(fromRecord)
	h50, h99, hmx := spread(fromHandler)
	t.Logf("inspect.Result in another process than the worker, %d tasks, %d callers; %d calls came after the settlement and are left out", n, callers, late)
	t.Logf("settlement (final record's UpdatedAt) to Result's return, %d calls: p50 %s, p99 %s, max %s", len(fromRecord), ms(r50), ms(r99), ms(rmx))
	t.Logf("handler's return to Result's return, %d calls: p50 %s, p99 %s, max %s", len(fromHandler), ms(h50), ms(h99), ms(hmx))
	if len(fromRecord) < n/2 {
		t.Logf("only %d of %d calls were waiting when their task settled: the figures say little", len(fromRecord), n)
	}
}
