package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/topology"
)

// cancelLog is what the e2eworker -cancel processes logged, read from their --out
// files.
type cancelLog struct {
	starts  map[string]int       // task ID → handler runs
	ctxDone map[string]time.Time // task ID → when its handler's ctx ended
	causes  map[string]string    // task ID → the cause its handler saw
	where   map[string]int       // task ID → the index of the file that started it
}

func readCancelLogs(t *testing.T, paths ...string) cancelLog {
	t.Helper()
	l := cancelLog{starts: map[string]int{}, ctxDone: map[string]time.Time{}, causes: map[string]string{}, where: map[string]int{}}
	for i, p := range paths {
		for _, ln := range readLines(t, p) {
			f := strings.SplitN(ln, " ", 4)
			switch {
			case len(f) >= 4 && f[0] == "start":
				l.starts[f[1]]++
				l.where[f[1]] = i
			case len(f) >= 3 && f[0] == "ctxdone":
				ns, err := strconv.ParseInt(f[2], 10, 64)
				if err != nil {
					t.Fatalf("%s: %q: %v", p, ln, err)
				}
				l.ctxDone[f[1]] = time.Unix(0, ns)
				if len(f) == 4 {
					l.causes[f[1]] = f[3]
				}
			}
		}
	}
	return l
}

// TestCancelReachesRunningTasksInOtherProcesses is the cancel scenario of
// issue 27 on a real nats-server and two worker processes (e2eworker -cancel): 20
// running tasks cancelled one after the other from this process have
// their handler's ctx cancelled in the worker process that runs them, with
// cause tasks.ErrCancelled, and read status cancelled (the time from
// Cancel's call to the handler's ctx ending is logged, p50 and max); a
// cancelled task whose handler ignores its ctx, its worker then killed
// (SIGKILL), is delivered again to the other worker, which settles it as
// cancelled without running it; a task cancelled while queued and one
// cancelled while delayed never run.
func TestCancelReachesRunningTasksInOtherProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	natsBin := natsServerBinary(t)
	worker := flowBinary(t, dir)
	js, url := natsSingle(t, dir, natsBin)
	p, in := flowClients(t, js, topology.Topology{})
	enqueue := func(mode string, opts ...producer.EnqueueOption) string {
		t.Helper()
		r, err := producer.Enqueue(ctx, p, e2etask.Cancellable, e2etask.CancelArgs{Mode: mode}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	waitStatus := func(id string, want status.State) {
		t.Helper()
		testkit.WaitFor(t, 30*time.Second, func() error {
			st, err := in.Status(ctx, id)
			if err != nil || st.State != want {
				return fmt.Errorf("status of %s: %+v, %v; want %s", id, st.State, err, want)
			}
			return nil
		})
	}

	// Before any worker: one queued task and one delayed task, cancelled.
	queued := enqueue(e2etask.UntilCancelled)
	delayed := enqueue(e2etask.UntilCancelled, producer.WithDelay(2*time.Second))
	for _, id := range []string{queued, delayed} {
		if err := in.Cancel(ctx, inspect.Ref{ID: id}); err != nil {
			t.Fatalf("cancel %s: %v", id, err)
		}
		waitStatus(id, status.Cancelled)
	}
	// Due with the cancelled one: once it ran, the cancelled one was due too.
	sentinel := enqueue(e2etask.Quick, producer.WithDelay(2*time.Second))

	outs := []string{filepath.Join(dir, "a.out"), filepath.Join(dir, "b.out")}
	procs := []*proc{
		startProc(t, dir, "worker-a", worker, "-servers", url, "-out", outs[0], "-name", "a", "-replicas", "1", "-concurrency", "4", "-cancel"),
		startProc(t, dir, "worker-b", worker, "-servers", url, "-out", outs[1], "-name", "b", "-replicas", "1", "-concurrency", "4", "-cancel"),
	}
	waitStatus(sentinel, status.Done)

	const n = 20
	lat := make([]time.Duration, 0, n)
	for range n {
		id := enqueue(e2etask.UntilCancelled)
		testkit.WaitFor(t, 30*time.Second, func() error {
			if readCancelLogs(t, outs...).starts[id] == 0 {
				return fmt.Errorf("task %s has not started", id)
			}
			return nil
		})
		at := time.Now()
		if err := in.Cancel(ctx, inspect.Ref{ID: id}); err != nil {
			t.Fatalf("cancel running task %s: %v", id, err)
		}
		var l cancelLog
		testkit.WaitFor(t, 30*time.Second, func() error {
			if l = readCancelLogs(t, outs...); l.ctxDone[id].IsZero() {
				return fmt.Errorf("the ctx of task %s's handler has not ended", id)
			}
			return nil
		})
		lat = append(lat, l.ctxDone[id].Sub(at))
		if cause := l.causes[id]; cause != "tasks: task cancelled" {
			t.Errorf("cause of task %s's ctx: %q, want tasks.ErrCancelled", id, cause)
		}
		waitStatus(id, status.Cancelled)
	}
	p50, p99, mx := spread(lat)
	t.Logf("running task cancelled in another process: Cancel called → handler's ctx done over %d cancels: p50 %s p99 %s max %s",
		n, ms(p50), ms(p99), ms(mx))

	// A handler that ignores its ctx, its worker killed: the task comes
	// back to the other worker, which does not run it.
	stubborn := enqueue(e2etask.IgnoreCtx)
	var victim int
	testkit.WaitFor(t, 30*time.Second, func() error {
		l := readCancelLogs(t, outs...)
		if l.starts[stubborn] == 0 {
			return fmt.Errorf("task %s has not started", stubborn)
		}
		victim = l.where[stubborn]
		return nil
	})
	if err := in.Cancel(ctx, inspect.Ref{ID: stubborn}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, func() error {
		if readCancelLogs(t, outs...).ctxDone[stubborn].IsZero() {
			return fmt.Errorf("the ctx of task %s's handler has not ended", stubborn)
		}
		return nil
	})
	procs[victim].signal(t, syscall.SIGKILL) // waits for its end
	waitStatus(stubborn, status.Cancelled)   // settled by the other worker, after the ack wait

	l := readCancelLogs(t, outs...)
	for id, want := range map[string]int{stubborn: 1, queued: 0, delayed: 0} {
		if got := l.starts[id]; got != want {
			t.Errorf("task %s ran %d times, want %d", id, got, want)
		}
	}
	if n := l.starts[sentinel]; n != 1 {
		t.Errorf("sentinel ran %d times, want 1", n)
	}
}
