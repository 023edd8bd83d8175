package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
	"github.com/jetq/jetq/workflow"
)

type bundle struct {
	srv *embedded.Server
	js  jetstream.JetStream
	p   *producer.Producer
	reg *tasks.Registry
	wf  *flow.Runner
}

func setup(t *testing.T, popts ...producer.Option) bundle {
	t.Helper()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	return bundle{srv: srv, js: js, p: jetqtest.NewProducer(t, js, popts...), reg: tasks.NewRegistry(),
		wf: flow.New(js, topology.Topology{}, testkit.Logger(t))}
}

// worker starts a worker of b's registry and waits until it serves every
// task type of it, so that Start finds them served.
func (b bundle) worker(t *testing.T, opts ...consumer.Option) *jetqtest.Worker {
	t.Helper()
	w := jetqtest.StartWorker(t, b.srv, b.reg, opts...)
	names := wire.NamesOf(topology.Topology{})
	for _, rt := range b.reg.Routes() {
		testkit.WaitFor(t, 30*time.Second, func() error {
			_, err := b.js.Consumer(context.Background(), names.WorkStream(), names.Durable(rt.Spec.Queue, rt.Spec.Name))
			return err
		})
	}
	return w
}

// waitState waits until workflow id is in state want and returns it.
func (b bundle) waitState(t *testing.T, id string, want flow.WorkflowState) flow.Workflow {
	t.Helper()
	var w flow.Workflow
	testkit.WaitFor(t, 30*time.Second, func() error {
		var err error
		if w, err = b.wf.Load(context.Background(), id); err != nil {
			return err
		}
		if w.State != want {
			return fmt.Errorf("workflow %s, want %s; steps %v", w.State, want, stepStates(w))
		}
		return nil
	})
	return w
}

func stepStates(w flow.Workflow) map[string]status.State {
	m := map[string]status.State{}
	for _, s := range w.Steps {
		m[s.Name] = s.State
	}
	return m
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("nothing received within 30s")
		panic("unreachable")
	}
}

func TestAChainOfFivePassesTypedResultsEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	add := tasks.DefineResult[int, int]("wf.add")
	last := make(chan int, 1)
	tasks.MustHandleResult(b.reg, add, func(ctx context.Context, tk *tasks.Task[int]) (int, error) {
		prev, err := workflow.Input[int](ctx)
		if tk.Payload == 1 { // the first step has no parent
			if !errors.Is(err, workflow.ErrNoInput) {
				return 0, tasks.Permanent(fmt.Errorf("first step: Input returned %v, want ErrNoInput", err))
			}
			prev = 0
		} else if err != nil {
			return 0, tasks.Permanent(err)
		}
		sum := prev*10 + tk.Payload
		if tk.Payload == 5 {
			last <- sum
		}
		return sum, nil
	})
	b.worker(t)
	var steps []workflow.Step
	for i := 1; i <= 5; i++ {
		steps = append(steps, workflow.Task(fmt.Sprintf("s%d", i), add, i))
	}
	run, err := workflow.Start(context.Background(), b.p, workflow.Chain("digits", steps...))
	if err != nil {
		t.Fatal(err)
	}
	if got := recv(t, last); got != 12345 {
		t.Errorf("last step computed %d, want 12345", got)
	}
	w := b.waitState(t, run.ID, flow.Succeeded)
	for _, s := range w.Steps {
		if s.State != status.Done || s.Attempts != 1 || s.ResultSize == 0 || s.TaskID != run.ID+":"+s.Name {
			t.Errorf("step %+v", s)
		}
	}
}

func TestAChordMemberThatFailsOnceStillGivesItsResultAndTheCallbackRunsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	square := tasks.DefineResult[int, int]("wf.square")
	var failed atomic.Bool
	tasks.MustHandleResult(b.reg, square, func(ctx context.Context, tk *tasks.Task[int]) (int, error) {
		if tk.Payload == 3 && failed.CompareAndSwap(false, true) {
			return 0, tasks.RetryAfter(10*time.Millisecond, errors.New("flaky"))
		}
		return tk.Payload * tk.Payload, nil
	})
	sum := tasks.Define[string]("wf.sum")
	got := make(chan []int, 10)
	var calls atomic.Int32
	tasks.MustHandle(b.reg, sum, func(ctx context.Context, tk *tasks.Task[string]) error {
		calls.Add(1)
		rs, err := workflow.Results[int](ctx)
		if err != nil {
			return tasks.Permanent(err)
		}
		got <- rs
		return nil
	})
	b.worker(t, consumer.WithConcurrency(8))
	var members []workflow.Step
	for i := 1; i <= 6; i++ {
		members = append(members, workflow.Task(fmt.Sprintf("m%d", i), square, i))
	}
	run, err := workflow.Start(context.Background(), b.p, workflow.Chord("squares", members, workflow.Task("sum", sum, "total")))
	if err != nil {
		t.Fatal(err)
	}
	if rs := recv(t, got); fmt.Sprint(rs) != "[1 4 9 16 25 36]" {
		t.Errorf("callback read %v, want [1 4 9 16 25 36]", rs)
	}
	w := b.waitState(t, run.ID, flow.Succeeded)
	for _, s := range w.Steps {
		want := 1
		if s.Name == "m3" {
			want = 2
		}
		if s.Attempts != want {
			t.Errorf("step %s: %d attempts, want %d", s.Name, s.Attempts, want)
		}
	}
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	if n := calls.Load(); n != 1 {
		t.Errorf("callback ran %d times, want 1", n)
	}
}

func TestADiamondReadsItsParentsResults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	word := tasks.DefineResult[string, string]("wf.word")
	tasks.MustHandleResult(b.reg, word, func(ctx context.Context, tk *tasks.Task[string]) (string, error) {
		in, err := workflow.Input[string](ctx)
		if err != nil && !errors.Is(err, workflow.ErrNoInput) {
			return "", tasks.Permanent(err)
		}
		return in + tk.Payload, nil
	})
	join := tasks.DefineResult[string, string]("wf.join")
	joined := make(chan string, 1)
	tasks.MustHandleResult(b.reg, join, func(ctx context.Context, tk *tasks.Task[string]) (string, error) {
		left, err := workflow.ParentResult[string](ctx, "left")
		if err != nil {
			return "", tasks.Permanent(err)
		}
		right, err := workflow.ParentResult[string](ctx, "right")
		if err != nil {
			return "", tasks.Permanent(err)
		}
		if _, err := workflow.ParentResult[string](ctx, "top"); !errors.Is(err, workflow.ErrNoInput) {
			return "", tasks.Permanent(fmt.Errorf("ParentResult of a grandparent: %v, want ErrNoInput", err))
		}
		joined <- left + "|" + right
		return left + right, nil
	})
	b.worker(t)
	w := workflow.New("diamond").Add(
		workflow.Task("top", word, "a"),
		workflow.Task("left", word, "b").After("top"),
		workflow.Task("right", word, "c").After("top"),
		workflow.Task("bottom", join, "").After("left", "right"),
	)
	run, err := workflow.Start(context.Background(), b.p, w)
	if err != nil {
		t.Fatal(err)
	}
	if got := recv(t, joined); got != "ab|ac" {
		t.Errorf("bottom read %q, want ab|ac", got)
	}
	b.waitState(t, run.ID, flow.Succeeded)
}

func TestADeadLetterStopsTheWorkflowAndItsReplayFinishesIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	step := tasks.DefineResult[string, string]("wf.step")
	var broken atomic.Bool
	broken.Store(true)
	ran := make(chan string, 10)
	tasks.MustHandleResult(b.reg, step, func(ctx context.Context, tk *tasks.Task[string]) (string, error) {
		if tk.Payload == "s3" && broken.Load() {
			return "", tasks.Permanent(errors.New("s3 is broken"))
		}
		ran <- tk.Payload
		return tk.Payload + "!", nil
	})
	onFail := tasks.Define[workflow.Failure]("wf.failed")
	failures := make(chan workflow.Failure, 10)
	tasks.MustHandle(b.reg, onFail, func(ctx context.Context, tk *tasks.Task[workflow.Failure]) error {
		failures <- tk.Payload
		return nil
	})
	b.worker(t)
	var steps []workflow.Step
	for i := 1; i <= 5; i++ {
		steps = append(steps, workflow.Task(fmt.Sprintf("s%d", i), step, fmt.Sprintf("s%d", i)))
	}
	run, err := workflow.Start(context.Background(), b.p,
		workflow.Chain("stops", steps...).With(workflow.WithID("order-7"), workflow.OnFailure(onFail)))
	if err != nil || run.ID != "order-7" {
		t.Fatalf("Start: %+v, %v", run, err)
	}
	f := recv(t, failures)
	if f.ID != "order-7" || len(f.Failed) != 1 || f.Failed[0].ID != "order-7:s3" || !strings.Contains(f.Failed[0].Error, "s3 is broken") ||
		len(f.Succeeded) != 2 || string(f.Succeeded["s2"]) != `"s2!"` {
		t.Errorf("failure callback got %+v", f)
	}
	w := b.waitState(t, run.ID, flow.Failed)
	want := map[string]status.State{"s1": status.Done, "s2": status.Done, "s3": status.DeadLettered, "s4": flow.Unreachable, "s5": flow.Unreachable}
	if got := stepStates(w); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("steps %v, want %v", got, want)
	}

	broken.Store(false)
	in, err := inspect.New(b.js)
	if err != nil {
		t.Fatal(err)
	}
	dls, err := in.DeadLetters(context.Background(), inspect.DeadLetterFilter{Task: "wf.step"})
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters: %d, %v", len(dls), err)
	}
	if err := in.ReplayDeadLetter(context.Background(), dls[0].Seq); err != nil {
		t.Fatal(err)
	}
	w = b.waitState(t, run.ID, flow.Succeeded)
	for _, s := range w.Steps {
		if s.State != status.Done {
			t.Errorf("step %s %s after the replay", s.Name, s.State)
		}
	}
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	close(ran)
	var order []string
	for s := range ran {
		order = append(order, s)
	}
	if fmt.Sprint(order) != "[s1 s2 s3 s4 s5]" {
		t.Errorf("steps ran %v, want each once in order", order)
	}
	select {
	case f := <-failures:
		t.Errorf("failure callback ran again: %+v", f)
	default:
	}
}

func TestCancelDropsQueuedStepsUnrunAndEnqueuesNoMore(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[string]("wf.cancelled", tasks.WithStateTracking())
	var runs atomic.Int32
	tasks.MustHandle(b.reg, def, func(ctx context.Context, tk *tasks.Task[string]) error {
		runs.Add(1)
		return nil
	})
	ctx := context.Background()
	// No worker yet: the first steps wait in the queue.
	run, err := workflow.Start(ctx, b.p, workflow.New("c", workflow.Force()).Add(
		workflow.Task("a", def, "a"), workflow.Task("b", def, "b"), workflow.Task("c", def, "c").After("a", "b")))
	if err != nil {
		t.Fatal(err)
	}
	n, err := b.wf.Cancel(ctx, run.ID)
	if err != nil || n != 3 {
		t.Fatalf("Cancel: %d, %v; want 3", n, err)
	}
	b.worker(t)
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	w := b.waitState(t, run.ID, flow.Cancelled)
	if got := stepStates(w); fmt.Sprint(got) != "map[a:cancelled b:cancelled c:cancelled]" {
		t.Errorf("steps %v", got)
	}
	if n := runs.Load(); n != 0 {
		t.Errorf("%d steps ran, want none", n)
	}
	in, err := inspect.New(b.js)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b"} {
		st, err := in.Status(ctx, run.ID+":"+s)
		if err != nil || st.State != status.Cancelled {
			t.Errorf("status of step %s: %+v, %v; want cancelled", s, st, err)
		}
	}
}

func TestBadInputIsRefusedAndStoresNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	served := tasks.Define[int]("wf.served")
	tasks.MustHandle(b.reg, served, func(context.Context, *tasks.Task[int]) error { return nil })
	b.worker(t)
	unserved := tasks.Define[int]("wf.unserved")
	for _, tc := range []struct {
		name string
		w    *workflow.Workflow
		want string
	}{
		{"no steps", workflow.New("empty"), `workflow "empty" has no steps`},
		{"bad name", workflow.Group("g", workflow.Task("Bad Name", served, 1)), `step name "Bad Name"`},
		{"duplicate", workflow.Group("g", workflow.Task("a", served, 1), workflow.Task("a", served, 2)), `two steps are named "a"`},
		{"unknown", workflow.Group("g", workflow.Task("a", served, 1).After("z")), `step "a" waits for "z", which is not a step`},
		{"cycle", workflow.New("c").Add(workflow.Task("a", served, 1).After("c"), workflow.Task("b", served, 1).After("a"),
			workflow.Task("c", served, 1).After("b"), workflow.Task("d", served, 1)), "cycle: a -> c -> b -> a"},
		{"self", workflow.Group("g", workflow.Task("a", served, 1).After("a")), "cycle: a -> a"},
		{"unserved", workflow.Chain("u", workflow.Task("a", served, 1), workflow.Task("b", unserved, 1)),
			`no worker serves task type "wf.unserved" (queue "default") yet`},
		{"zero step", workflow.Group("g", workflow.Step{}), "zero Step"},
		{"bad ID", workflow.Group("g", workflow.Task("a", served, 1)).With(workflow.WithID("has space")), `workflow ID "has space"`},
	} {
		_, err := workflow.Start(context.Background(), b.p, tc.w)
		if !errors.Is(err, workflow.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want ErrInvalid saying %q", tc.name, err, tc.want)
		}
	}
	// Nothing stored: no workflow record, no task.
	if _, err := b.js.KeyValue(context.Background(), "JETQ_WORKFLOWS"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("workflow bucket: %v, want none", err)
	}
	if n := jetqtest.Msgs(t, b.js, "JETQ_TASKS"); n != 0 {
		t.Errorf("%d tasks enqueued", n)
	}
	// Forced, the unserved type's step waits in its queue.
	run, err := workflow.Start(context.Background(), b.p,
		workflow.Group("u", workflow.Task("b", unserved, 1)).With(workflow.Force()))
	if err != nil {
		t.Fatalf("forced: %v", err)
	}
	if w, err := b.wf.Load(context.Background(), run.ID); err != nil || w.Steps[0].State != status.Queued {
		t.Errorf("forced: %+v, %v", w, err)
	}
}

func TestStartAgainWithTheSameIDFinishesAndDuplicatesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[int]("wf.again")
	var runs sync.Map
	tasks.MustHandle(b.reg, def, func(ctx context.Context, tk *tasks.Task[int]) error {
		n, _ := runs.LoadOrStore(tk.ID, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		return nil
	})
	b.worker(t)
	w := func() *workflow.Workflow {
		return workflow.New("again", workflow.WithID("again-1")).Add(
			workflow.Task("a", def, 1), workflow.Task("b", def, 2), workflow.Task("c", def, 3).After("a", "b"))
	}
	ctx := context.Background()
	first, err := workflow.Start(ctx, b.p, w())
	if err != nil || first.Duplicate {
		t.Fatalf("first Start: %+v, %v", first, err)
	}
	second, err := workflow.Start(ctx, b.p, w())
	if err != nil || !second.Duplicate || second.ID != "again-1" {
		t.Fatalf("second Start: %+v, %v", second, err)
	}
	b.waitState(t, "again-1", flow.Succeeded)
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	runs.Range(func(k, v any) bool {
		if n := v.(*atomic.Int32).Load(); n != 1 {
			t.Errorf("task %s ran %d times", k, n)
		}
		return true
	})
}
