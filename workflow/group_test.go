package workflow_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
	"github.com/jetq/jetq/workflow"
)

// A queue with room for two of three first steps takes none of them, and
// Start again with the same ID, once there is room, starts the workflow.
func TestTheFirstStepsAreEnqueuedAllOrNothingAndStartAgainFinishes(t *testing.T) {
	t.Parallel()
	topo := topology.Topology{MaxTasks: 3}
	b := setup(t, producer.WithTopology(topo))
	ctx := context.Background()
	blocker := tasks.Define[int]("wf.blocker")
	if _, err := producer.Enqueue(ctx, b.p, blocker, 0); err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[int]("wf.first")
	tasks.MustHandle(b.reg, def, func(context.Context, *tasks.Task[int]) error { return nil })
	w := func() *workflow.Workflow {
		return workflow.Group("first", workflow.Task("a", def, 1), workflow.Task("b", def, 2), workflow.Task("c", def, 3)).
			With(workflow.WithID("first-1"), workflow.Force())
	}
	if _, err := workflow.Start(ctx, b.p, w()); !errors.Is(err, producer.ErrQueueFull) {
		t.Fatalf("Start into a queue with room for 2 of 3: %v, want ErrQueueFull", err)
	}
	if n := jetqtest.Msgs(t, b.js, "JETQ_TASKS"); n != 1 {
		t.Fatalf("the work stream holds %d tasks, want only the one there before", n)
	}

	// Room again: the blocker runs.
	tasks.MustHandle(b.reg, blocker, func(context.Context, *tasks.Task[int]) error { return nil })
	b.worker(t, consumer.WithTopology(topo))
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	run, err := workflow.Start(ctx, b.p, w())
	if err != nil || !run.Duplicate {
		t.Fatalf("Start again: %+v, %v; want a duplicate that finishes the start", run, err)
	}
	b.waitState(t, "first-1", flow.Succeeded)
}
