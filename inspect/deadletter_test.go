package inspect_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

func TestDeadLetterTaskAndQueueComeFromTheSubject(t *testing.T) {
	t.Parallel()
	js := newDLQ(t, true)
	ctx := context.Background()
	names := wire.Names{}
	at := time.Now().UTC()
	// The task's own headers say queue "other", task "other.task".
	spec := tasks.Define[Job]("other.task", tasks.WithAckWait(time.Second), tasks.WithQueue("other")).Spec()
	body := []byte(`{"n":1}`)
	env := wire.NewEnvelope(names, spec, "task-1", body, at.Add(-time.Minute))
	env.Header.Set(wire.HeaderTask, "other.task") // as a raw publisher may say
	env.Header.Set(wire.HeaderQueue, "other")
	cases := []struct {
		name, subject, wantQueue, wantTask string
	}{
		{"subject contradicts the headers", "jetq.dlq.default.real.task", "default", "real.task"},
		{"subject without a task name", "jetq.dlq.default", "other", "other.task"},
	}
	bySeq := map[uint64]int{}
	for i, tc := range cases {
		rec := wire.DeadLetter(names, "default", "real.task", nats.Header(env.Header), body, wire.Failure{
			Reason: tasks.ReasonPermanent, Error: "boom", Stream: "JETQ_TASKS", Seq: uint64(100 + i),
			Subject: env.Subject, Deliveries: 1, At: at,
		}, wire.Limits{})
		rec.Subject = tc.subject
		ack, err := js.PublishMsg(ctx, rec)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		bySeq[ack.Sequence] = i
	}
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}

	entries, err := in.DeadLetters(ctx, inspect.DeadLetterFilter{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(cases) {
		t.Fatalf("List: got %d entries, want %d", len(entries), len(cases))
	}
	for _, e := range entries {
		tc := cases[bySeq[e.Seq]]
		if e.Queue != tc.wantQueue || e.Task != tc.wantTask {
			t.Errorf("%s: List got queue %q, task %q; want %q, %q", tc.name, e.Queue, e.Task, tc.wantQueue, tc.wantTask)
		}
		got, err := in.DeadLetter(ctx, e.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if got.Queue != tc.wantQueue || got.Task != tc.wantTask {
			t.Errorf("%s: Get got queue %q, task %q; want %q, %q", tc.name, got.Queue, got.Task, tc.wantQueue, tc.wantTask)
		}
	}

	selected, err := in.DeadLetters(ctx, inspect.DeadLetterFilter{Task: "real.task"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range selected {
		got = append(got, e.Task)
	}
	if len(got) != 1 || got[0] != "real.task" {
		t.Errorf("List of task real.task: got tasks %q, want [\"real.task\"]", got)
	}

	st, err := in.DeadLetterStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(st.ByTask), fmt.Sprint(map[string]int{"other.task": 1, "real.task": 1}); got != want {
		t.Errorf("Stats.ByTask: got %s, want %s", got, want)
	}
}
