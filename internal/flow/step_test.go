package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

type fixture struct {
	js    jetstream.JetStream
	r     *flow.Runner
	names wire.Names
}

// setup runs an embedded server with jetq's streams and returns a runner
// on it.
func setup(t testing.TB) fixture {
	t.Helper()
	js := embeddedtest.JetStream(t)
	p := jetqtest.NewProducer(t, js)
	if err := p.Provision(context.Background()); err != nil {
		t.Fatal(err)
	}
	return fixture{js: js, r: flow.New(js, topology.Topology{}, testkit.Logger(t)), names: wire.NamesOf(topology.Topology{})}
}

// create stores a workflow of steps (name -> deps, in an order where
// parents come first), each a task "t.<name>", with payload "p-<name>".
func (f fixture) create(t testing.TB, id string, onFailure string, steps ...[]string) flow.Record {
	t.Helper()
	rec := flow.Record{Workflow: flow.Workflow{ID: id, Name: "test", State: flow.Running, CreatedAt: time.Now(), OnFailure: onFailure},
		FailureQueue: "default"}
	payloads := map[string][]byte{}
	for _, s := range steps {
		st := flow.Step{Name: s[0], Task: "t." + s[0], Queue: "default", TaskID: wire.StepTaskID(id, s[0]), Deps: s[1:], State: status.Queued}
		if len(st.Deps) > 0 {
			st.State = flow.Waiting
			payloads[s[0]] = []byte(`"p-` + s[0] + `"`)
		}
		rec.Steps = append(rec.Steps, st)
	}
	rec, created, err := f.r.Create(context.Background(), rec, payloads)
	if err != nil || !created {
		t.Fatalf("Create: created %v, %v", created, err)
	}
	return rec
}

// settle calls After for step of workflow id as its worker would.
func (f fixture) settle(t *testing.T, id, step string, state status.State, result string) {
	t.Helper()
	if err := f.r.After(context.Background(), settlement(id, step, state, result)); err != nil {
		t.Fatalf("After %s %s: %v", step, state, err)
	}
}

func settlement(id, step string, state status.State, result string) flow.Settlement {
	env := &tasks.Envelope{ID: wire.StepTaskID(id, step), Name: "t." + step, Queue: "default",
		Header: tasks.Header{wire.HeaderWorkflow: {id}, wire.HeaderStep: {step}}}
	s := flow.Settlement{Env: env, State: state, Attempts: 1, At: time.Now()}
	if result != "" {
		s.Result, s.ContentType = []byte(result), "application/json"
	}
	if state == status.DeadLettered {
		s.Reason, s.Error = tasks.ReasonPermanent, "boom"
	}
	return s
}

// states returns each step's state, by name.
func (f fixture) states(t *testing.T, id string) (flow.WorkflowState, map[string]status.State) {
	t.Helper()
	w, err := f.r.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]status.State{}
	for _, s := range w.Steps {
		m[s.Name] = s.State
	}
	return w.State, m
}

// enqueued returns the tasks in the work stream, by task ID, in order.
func (f fixture) enqueued(t *testing.T) []jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := f.js.Stream(ctx, f.names.WorkStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		out = append(out, *m)
	}
	return out
}

func ids(msgs []jetstream.RawStreamMsg) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Header.Get(wire.HeaderMsgID))
	}
	return out
}

func TestChordCallbackIsEnqueuedOnceWhenEveryMemberSucceeds(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.create(t, "wf1", "", []string{"a"}, []string{"b"}, []string{"c"}, []string{"cb", "a", "b", "c"})

	var wg sync.WaitGroup
	for _, m := range []string{"a", "b", "c"} {
		wg.Go(func() {
			if err := f.r.After(context.Background(), settlement("wf1", m, status.Done, `"r-`+m+`"`)); err != nil {
				t.Errorf("After %s: %v", m, err)
			}
		})
	}
	wg.Wait()
	// A redelivery of a member's settlement changes nothing more.
	f.settle(t, "wf1", "b", status.Done, `"other"`)

	msgs := f.enqueued(t)
	if got := ids(msgs); len(got) != 1 || got[0] != "wf1:cb" {
		t.Fatalf("enqueued %v, want [wf1:cb]", got)
	}
	m := msgs[0]
	if m.Subject != "jetq.task.default.t.cb" || string(m.Data) != `"p-cb"` ||
		m.Header.Get(wire.HeaderStep) != "cb" || m.Header.Get(wire.HeaderWorkflow) != "wf1" || m.Header.Get(tasks.HeaderParent) == "" {
		t.Errorf("callback task: subject %s, body %s, header %v", m.Subject, m.Data, m.Header)
	}
	state, st := f.states(t, "wf1")
	if state != flow.Running || st["a"] != status.Done || st["cb"] != status.Queued {
		t.Errorf("workflow %s, steps %v; want running, a done, cb queued", state, st)
	}

	// The callback's worker reads the members' results, in member order,
	// the first stored for b.
	in, verdict, err := f.r.Prepare(context.Background(), tasks.Header(m.Header))
	if err != nil || verdict != flow.Run {
		t.Fatalf("Prepare: %v, %v", verdict, err)
	}
	var got []string
	for _, d := range in.Deps {
		got = append(got, string(in.Results[d].Data))
	}
	if want := `["r-a" "r-b" "r-c"]`; fmt.Sprint(got) != want {
		t.Errorf("inputs %s, want %s", got, want)
	}

	f.settle(t, "wf1", "cb", status.Done, "")
	if state, _ := f.states(t, "wf1"); state != flow.Succeeded {
		t.Errorf("workflow %s after the callback, want succeeded", state)
	}
}

func TestADeadLetteredStepStopsItsDependentsAndAReplayResumesThem(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// a -> b -> c, and d on its own; on failure: "t.failed".
	f.create(t, "wf2", "t.failed", []string{"a"}, []string{"d"}, []string{"b", "a"}, []string{"c", "b"})
	f.settle(t, "wf2", "a", status.Done, `1`)
	f.settle(t, "wf2", "d", status.Done, `4`)
	f.settle(t, "wf2", "b", status.DeadLettered, "")
	// Redelivered: the same failure recorded again doubles nothing.
	f.settle(t, "wf2", "b", status.DeadLettered, "")

	state, st := f.states(t, "wf2")
	want := map[string]status.State{"a": status.Done, "d": status.Done, "b": status.DeadLettered, "c": flow.Unreachable}
	if state != flow.Failed || fmt.Sprint(st) != fmt.Sprint(want) {
		t.Fatalf("workflow %s, steps %v; want failed, %v", state, st, want)
	}
	msgs := f.enqueued(t)
	if got := ids(msgs); fmt.Sprint(got) != "[wf2:b wf2:!failed]" {
		t.Fatalf("enqueued %v, want [wf2:b wf2:!failed]", got)
	}
	var fp flow.FailurePayload
	if err := json.Unmarshal(msgs[1].Data, &fp); err != nil {
		t.Fatal(err)
	}
	if len(fp.Failed) != 1 || fp.Failed[0].ID != "wf2:b" || fp.Failed[0].Reason != tasks.ReasonPermanent || fp.Failed[0].Error != "boom" ||
		string(fp.Succeeded["a"]) != "1" || string(fp.Succeeded["d"]) != "4" || len(fp.Succeeded) != 2 {
		t.Errorf("failure payload %+v", fp)
	}

	// b replayed from the dead-letter stream succeeds: c is enqueued.
	f.settle(t, "wf2", "b", status.Done, `2`)
	if state, st := f.states(t, "wf2"); state != flow.Running || st["c"] != status.Queued {
		t.Fatalf("after the replay: workflow %s, steps %v; want running, c queued", state, st)
	}
	f.settle(t, "wf2", "c", status.Done, `3`)
	if state, _ := f.states(t, "wf2"); state != flow.Succeeded {
		t.Errorf("workflow %s, want succeeded", state)
	}
	if got := ids(f.enqueued(t)); fmt.Sprint(got) != "[wf2:b wf2:!failed wf2:c]" {
		t.Errorf("enqueued %v, want [wf2:b wf2:!failed wf2:c]", got)
	}
}

func TestTheFailureCallbackRunsOnceForTwoFailedSteps(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.create(t, "wf3", "t.failed", []string{"a"}, []string{"b"}, []string{"c", "a", "b"})
	f.settle(t, "wf3", "a", status.DeadLettered, "")
	f.settle(t, "wf3", "b", status.Expired, "")
	f.settle(t, "wf3", "a", status.DeadLettered, "")
	if got := ids(f.enqueued(t)); fmt.Sprint(got) != "[wf3:!failed]" {
		t.Errorf("enqueued %v, want the failure callback once", got)
	}
	if _, st := f.states(t, "wf3"); st["b"] != status.Expired || st["c"] != flow.Unreachable {
		t.Errorf("steps %v", st)
	}
}

func TestCancelStopsWhatHasNotRun(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.create(t, "wf4", "", []string{"a"}, []string{"b"}, []string{"c", "a"}, []string{"d", "c"})
	f.settle(t, "wf4", "a", status.Done, "")
	n, err := f.r.Cancel(ctx, "wf4")
	if err != nil || n != 3 {
		t.Fatalf("Cancel: %d, %v; want 3 (b and c queued, d waiting)", n, err)
	}
	// b's worker drops it unrun; c, which was running, succeeds: d stays
	// cancelled and is not enqueued.
	h := tasks.Header{wire.HeaderWorkflow: {"wf4"}, wire.HeaderStep: {"b"}}
	if _, verdict, err := f.r.Prepare(ctx, h); err != nil || verdict != flow.Drop {
		t.Errorf("Prepare of a queued step of a cancelled workflow: %v, %v; want Drop", verdict, err)
	}
	// a, done already, is not run again.
	h = tasks.Header{wire.HeaderWorkflow: {"wf4"}, wire.HeaderStep: {"a"}}
	if _, verdict, err := f.r.Prepare(ctx, h); err != nil || verdict != flow.Done {
		t.Errorf("Prepare of a step done already: %v, %v; want Done", verdict, err)
	}
	f.settle(t, "wf4", "b", status.Cancelled, "")
	f.settle(t, "wf4", "c", status.Done, "")
	state, st := f.states(t, "wf4")
	want := map[string]status.State{"a": status.Done, "b": status.Cancelled, "c": status.Done, "d": status.Cancelled}
	if state != flow.Cancelled || fmt.Sprint(st) != fmt.Sprint(want) {
		t.Errorf("workflow %s, steps %v; want cancelled, %v", state, st, want)
	}
	if got := ids(f.enqueued(t)); fmt.Sprint(got) != "[wf4:c]" {
		t.Errorf("enqueued %v, want [wf4:c] only", got)
	}
	if _, err := f.r.Cancel(ctx, "wf4"); err == nil {
		t.Error("Cancel of a cancelled workflow: no error")
	}
	if _, err := f.r.Load(ctx, "nope"); err == nil {
		t.Error("Load of an unknown workflow: no error")
	}
}

func TestALargeResultGoesToTheObjectStore(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.create(t, "wf5", "", []string{"a"}, []string{"b", "a"})
	big := make([]byte, 600<<10)
	for i := range big {
		big[i] = 'x'
	}
	big[0], big[len(big)-1] = '"', '"'
	f.settle(t, "wf5", "a", status.Done, string(big))
	in, _, err := f.r.Prepare(context.Background(), tasks.Header{wire.HeaderWorkflow: {"wf5"}, wire.HeaderStep: {"b"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := in.Results["a"].Data; len(got) != len(big) {
		t.Errorf("result of %d bytes, want %d", len(got), len(big))
	}
}
