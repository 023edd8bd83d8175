package flow_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
	"github.com/jetq/jetq/workflow"
)

const (
	envCrashURL   = "JETQ_FLOW_CRASH_URL"
	envCrashPoint = "JETQ_FLOW_CRASH_POINT"
)

// The chord of the crash test: three members and a callback. The short ack
// wait brings a killed worker's member back within a second, and the
// callback too: the worker killed after enqueueing it may have taken it
// already, and the default ack wait of 30 s is as long as the test waits
// for the callback.
var (
	crashMember   = tasks.DefineResult[int, int]("crash.member", tasks.WithAckWait(time.Second))
	crashCallback = tasks.Define[int]("crash.callback", tasks.WithAckWait(time.Second))
	// crashPlain is a member that returns no result, for the case
	// "plain-enqueued".
	crashPlain = tasks.Define[int]("crash.plain", tasks.WithAckWait(time.Second))
)

// crashRegistry registers the crash test's handlers; plainRuns counts the
// runs of crash.plain.
func crashRegistry(plainRuns *atomic.Int32, callback tasks.HandlerFunc[int]) *tasks.Registry {
	reg := tasks.NewRegistry()
	tasks.MustHandleResult(reg, crashMember, func(_ context.Context, t *tasks.Task[int]) (int, error) { return t.Payload * 10, nil })
	tasks.MustHandle(reg, crashPlain, func(context.Context, *tasks.Task[int]) error {
		plainRuns.Add(1)
		return nil
	})
	tasks.MustHandle(reg, crashCallback, callback)
	return reg
}

// crashWorker runs a worker that SIGKILLs its own process at point of the
// bookkeeping of the settlement that completes the chord (for
// "result-stored", of member m2), and exits 1 if it gets no chance to.
func crashWorker(url, point string) {
	flow.SetCrashHook(func(p, step string, ready []string) {
		if (p == point || "plain-"+p == point) && (p == "result-stored" && step == "m2" || slices.Contains(ready, "cb")) {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal takes the process
		}
	})
	nc, err := nats.Connect(url)
	if err == nil {
		var js jetstream.JetStream
		if js, err = jetstream.New(nc); err == nil {
			reg := crashRegistry(new(atomic.Int32), func(context.Context, *tasks.Task[int]) error { return nil })
			var w *consumer.Worker
			if w, err = consumer.New(js, reg); err == nil {
				err = w.Run(context.Background())
			}
		}
	}
	fmt.Fprintln(os.Stderr, "crash worker ended without its crash:", err)
	os.Exit(1)
}

// TestAWorkerKilledInTheBookkeepingLeavesItToTheRedelivery kills a real
// worker process with SIGKILL between the writes of a chord member's
// bookkeeping — after its result is stored, after the record says the
// callback is due, after the callback is enqueued but before the member's
// ack — through a hook in the bookkeeping, since no signal sent from outside
// lands between two given statements. The member's redelivery to another
// worker finishes the bookkeeping: the callback runs once with every result.
// In "plain-enqueued" the members return no result and keep no outcome:
// the redelivered member, recorded done, is not run again.
func TestAWorkerKilledInTheBookkeepingLeavesItToTheRedelivery(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"result-stored", "recorded", "enqueued", "plain-enqueued"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := embeddedtest.Server(t, embedded.WithListen("127.0.0.1:-1"))
			_, js := embeddedtest.Connect(t, srv)
			p := jetqtest.NewProducer(t, js)
			var members []workflow.Step
			for i := 1; i <= 3; i++ {
				if point == "plain-enqueued" {
					members = append(members, workflow.Task(fmt.Sprintf("m%d", i), crashPlain, i))
				} else {
					members = append(members, workflow.Task(fmt.Sprintf("m%d", i), crashMember, i))
				}
			}
			// Forced: the worker to be killed creates the consumers.
			run, err := workflow.Start(ctx, p, workflow.Chord("crash", members, workflow.Task("cb", crashCallback, 0)).With(workflow.Force()))
			if err != nil {
				t.Fatal(err)
			}

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envCrashURL+"="+srv.ClientURL(), envCrashPoint+"="+point)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("crash worker: %v, want killed by SIGKILL\n%s", err, out)
			}

			// Where it died: the state the redelivery finds.
			r := flow.New(js, topology.Topology{}, testkit.Logger(t))
			w, err := r.Load(ctx, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			cb := w.Steps[len(w.Steps)-1]
			_, cbErr := mustStream(t, js).GetLastMsgForSubject(ctx, wire.NamesOf(topology.Topology{}).TaskSubject("default", "crash.callback"))
			switch point {
			case "result-stored", "recorded":
				if point == "recorded" && cb.State != status.Queued || point == "result-stored" && cb.State != flow.Waiting ||
					!errors.Is(cbErr, jetstream.ErrMsgNotFound) {
					t.Fatalf("at the crash: callback %s, its task: %v; want it not enqueued", cb.State, cbErr)
				}
			case "enqueued", "plain-enqueued":
				if cbErr != nil {
					t.Fatalf("at the crash: the callback's task: %v, want it enqueued", cbErr)
				}
			}

			var calls, plainRuns atomic.Int32
			got := make(chan []int, 3)
			reg := crashRegistry(&plainRuns, func(ctx context.Context, _ *tasks.Task[int]) error {
				calls.Add(1)
				if point == "plain-enqueued" {
					got <- nil
					return nil
				}
				rs, err := workflow.Results[int](ctx)
				if err != nil {
					return tasks.Permanent(err)
				}
				got <- rs
				return nil
			})
			jetqtest.StartWorker(t, srv, reg)
			select {
			case rs := <-got:
				if point != "plain-enqueued" && fmt.Sprint(rs) != "[10 20 30]" {
					t.Errorf("callback read %v, want [10 20 30]", rs)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the callback did not run within 30s")
			}
			testkit.WaitFor(t, 30*time.Second, func() error {
				w, err := r.Load(ctx, run.ID)
				if err == nil && w.State != flow.Succeeded {
					err = fmt.Errorf("workflow %s", w.State)
				}
				return err
			})
			jetqtest.WaitEmpty(t, js, "JETQ_TASKS")
			if n := calls.Load(); n != 1 {
				t.Errorf("callback ran %d times, want 1", n)
			}
			if n := plainRuns.Load(); n != 0 {
				t.Errorf("the redelivered member, done already, ran %d more times", n)
			}
		})
	}
}

func mustStream(t *testing.T, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	s, err := js.Stream(context.Background(), "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	return s
}
