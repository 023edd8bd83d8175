package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
	"github.com/jetq/jetq/workflow"
)

// unencodable is a payload whose encoding fails.
type unencodable struct{}

func (unencodable) MarshalJSON() ([]byte, error) {
	return nil, errors.New("this payload never encodes")
}

// TestGroupEnqueueIsAllOrNothing enqueues groups on a nats-server process
// into queues that cannot take them whole. A group of two task types, one
// tracked, into a queue with room for fewer than the group leaves nothing:
// no task in the work stream, no status record; the same queue then takes
// a group that fits, whole. A group with a payload that does not encode
// stores nothing. A group larger than the server's atomic batch limit
// (1 000) is split, and when the queue fills part-way each part is stored
// whole or not at all, as each task's Result says. A workflow whose first
// steps do not fit enqueues none of them, and Start under the same ID
// finishes it once there is room.
func TestGroupEnqueueIsAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	js, _ := natsSingle(t, dir, natsServerBinary(t))
	plain, err := tasks.New[int]("group.plain")
	if err != nil {
		t.Fatal(err)
	}
	tracked, err := tasks.New[string]("group.tracked", tasks.WithStateTracking())
	if err != nil {
		t.Fatal(err)
	}
	bad, err := tasks.New[unencodable]("group.bad")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("full queue", func(t *testing.T) {
		topo := topology.Topology{Prefix: "full", MaxTasks: 10}
		p, in := flowClients(t, js, topo)
		stream := wire.NamesOf(topo).WorkStream()
		if _, err := producer.EnqueueBatch(ctx, p, plain, []int{1, 2, 3, 4, 5, 6}); err != nil {
			t.Fatal(err)
		}
		g := producer.NewGroup()
		var ids []string
		for i := range 3 {
			ids = append(ids, fmt.Sprintf("full-plain-%d", i), fmt.Sprintf("full-tracked-%d", i))
			producer.Add(g, plain, i, producer.WithID(ids[len(ids)-2]))
			producer.Add(g, tracked, fmt.Sprint(i), producer.WithID(ids[len(ids)-1]))
		}
		rs, err := producer.EnqueueGroup(ctx, p, g)
		if !errors.Is(err, producer.ErrQueueFull) {
			t.Fatalf("a group of 6 into a queue with room for 4: %v, want ErrQueueFull", err)
		}
		for i, r := range rs {
			if r.Err == nil {
				t.Errorf("result %d (%s) says stored, in a group refused", i, r.ID)
			}
		}
		if got := storedIDs(t, js, stream); len(got) != 6 || got["full-plain-0"] || got["full-tracked-0"] {
			t.Errorf("the work stream holds %d tasks (%v), want the 6 enqueued before the group", len(got), keys(got))
		}
		for _, id := range ids {
			lk, err := in.Find(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if lk.Status != nil || lk.Work != nil {
				t.Errorf("task %s of the refused group: status %+v, work %+v, want none", id, lk.Status, lk.Work)
			}
		}

		g = producer.NewGroup()
		for i := range 4 {
			producer.Add(g, tracked, fmt.Sprint(i), producer.WithID(fmt.Sprintf("fits-%d", i)))
		}
		rs, err = producer.EnqueueGroup(ctx, p, g)
		if err != nil {
			t.Fatalf("a group of 4 into a queue with room for 4: %v", err)
		}
		got := storedIDs(t, js, stream)
		for i, r := range rs {
			if r.Err != nil || r.ID != fmt.Sprintf("fits-%d", i) || !got[r.ID] {
				t.Errorf("result %d: %+v, stored %v", i, r, got[r.ID])
			}
		}
		if len(got) != 10 {
			t.Errorf("the work stream holds %d tasks, want 10", len(got))
		}
	})

	t.Run("payload that does not encode", func(t *testing.T) {
		topo := topology.Topology{Prefix: "enc"}
		p, _ := flowClients(t, js, topo)
		g := producer.NewGroup()
		producer.Add(g, plain, 1)
		producer.Add(g, bad, unencodable{})
		producer.Add(g, plain, 2)
		_, err := producer.EnqueueGroup(ctx, p, g)
		if err == nil || !strings.Contains(err.Error(), "never encodes") {
			t.Errorf("a group with a payload that does not encode: %v, want its encoding error", err)
		}
		if got := storedIDs(t, js, wire.NamesOf(topo).WorkStream()); len(got) != 0 {
			t.Errorf("the work stream holds %d tasks, want none", len(got))
		}
	})

	t.Run("larger than a batch", func(t *testing.T) {
		topo := topology.Topology{Prefix: "big", MaxTasks: 1500}
		p, _ := flowClients(t, js, topo)
		stream := wire.NamesOf(topo).WorkStream()
		if _, err := producer.EnqueueBatch(ctx, p, plain, make([]int, 100)); err != nil {
			t.Fatal(err)
		}
		const n = 1600
		g := producer.NewGroup()
		for i := range n {
			producer.Add(g, plain, i, producer.WithID(fmt.Sprintf("big-%04d", i)))
		}
		rs, err := producer.EnqueueGroup(ctx, p, g)
		if !errors.Is(err, producer.ErrQueueFull) {
			t.Errorf("a group of %d into a queue with room for 1 400: %v, want ErrQueueFull", n, err)
		}
		if len(rs) != n {
			t.Fatalf("%d results for a group of %d", len(rs), n)
		}
		got := storedIDs(t, js, stream)
		var runs []string // the results as runs of stored and refused tasks
		stored := 0
		for i, r := range rs {
			ok := r.Err == nil
			if ok {
				stored++
			} else if !errors.Is(r.Err, producer.ErrQueueFull) {
				t.Errorf("result %d: %v, want ErrQueueFull", i, r.Err)
			}
			if ok != got[fmt.Sprintf("big-%04d", i)] {
				t.Errorf("result %d says stored %v, the stream says %v", i, ok, !ok)
			}
			word := map[bool]string{true: "stored", false: "refused"}[ok]
			if len(runs) == 0 || !strings.HasSuffix(runs[len(runs)-1], word) {
				runs = append(runs, fmt.Sprintf("from %d %s", i, word))
			}
		}
		t.Logf("a group of %d into a queue with room for 1 400: %s", n, strings.Join(runs, ", "))
		if stored == 0 || stored == n {
			t.Errorf("%d of %d stored: a group larger than a batch is split, and the parts that fit are stored", stored, n)
		}
		if len(got) != 100+stored {
			t.Errorf("the work stream holds %d tasks, want %d", len(got), 100+stored)
		}
	})

	t.Run("workflow into a full queue", func(t *testing.T) {
		topo := topology.Topology{Prefix: "wf", MaxTasks: 5}
		p, in := flowClients(t, js, topo)
		stream := wire.NamesOf(topo).WorkStream()
		chord := func() *workflow.Workflow {
			w := workflow.New("too-wide", workflow.WithID("too-wide-1"), workflow.Force())
			var names []string
			for i := range 8 {
				names = append(names, fmt.Sprintf("m%d", i))
				w.Add(workflow.Task(names[i], plain, i))
			}
			return w.Add(workflow.Task("done", tracked, "done").After(names...))
		}
		_, err := workflow.Start(ctx, p, chord())
		if !errors.Is(err, producer.ErrQueueFull) {
			t.Errorf("a workflow of 8 first steps into a queue with room for 5: %v, want ErrQueueFull", err)
		}
		if got := storedIDs(t, js, stream); len(got) != 0 {
			t.Errorf("the work stream holds %d tasks, want none", len(got))
		}
		// Room for the whole workflow.
		ws, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		cfg := ws.CachedInfo().Config
		cfg.MaxMsgs = 100
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		// Start again under the same ID finishes the start (workflow.Start's
		// doc): its record kept, its first steps enqueued.
		run, err := workflow.Start(ctx, p, chord())
		if err != nil || run.ID != "too-wide-1" {
			t.Fatalf("the same workflow once there is room: %+v, %v", run, err)
		}
		if got := storedIDs(t, js, stream); len(got) != 8 {
			t.Errorf("the work stream holds %d tasks, want the 8 first steps", len(got))
		}
		if wf, err := in.Workflow(ctx, "too-wide-1"); err != nil || wf.State != "running" || len(wf.Steps) != 9 {
			t.Errorf("the workflow reads %+v, %v; want it running with its 9 steps", wf, err)
		}
	})
}

// storedIDs returns the IDs of the tasks stream holds now.
func storedIDs(t *testing.T, js jetstream.JetStream, stream string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	eachMsg(t, js, stream, func(m *jetstream.RawStreamMsg) {
		ids[wire.TaskID(tasks.Header(m.Header), stream, m.Sequence)] = true
	})
	return ids
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
