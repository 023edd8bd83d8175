package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
	"github.com/jetq/jetq/workflow"
)

// TestWorkflowErrors: an empty ID is a bad query, an unknown one not
// found (and reading it creates no bucket), and a cancelled workflow
// cannot be cancelled again.
func TestWorkflowErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, p, in := setupQueues(t)
	if _, err := in.Workflow(ctx, " "); !errors.Is(err, inspect.ErrInvalidQuery) {
		t.Errorf("Workflow of an empty ID: %v, want ErrInvalidQuery", err)
	}
	if _, err := in.CancelWorkflow(ctx, ""); !errors.Is(err, inspect.ErrInvalidQuery) {
		t.Errorf("CancelWorkflow of an empty ID: %v, want ErrInvalidQuery", err)
	}
	for _, f := range []func() error{
		func() error { _, err := in.Workflow(ctx, "nope"); return err },
		func() error { _, err := in.CancelWorkflow(ctx, "nope"); return err },
	} {
		if err := f(); !errors.Is(err, inspect.ErrNotFound) {
			t.Errorf("an unknown workflow: %v, want ErrNotFound", err)
		}
	}
	_, js := embeddedtest.Connect(t, srv)
	bucket := wire.WorkflowsBucketConfig(topology.Topology{}).Bucket
	if _, err := js.KeyValue(ctx, bucket); err == nil {
		t.Errorf("reading an unknown workflow created the bucket %s", bucket)
	}

	def := tasks.Define[string]("wf.idle")
	run, err := workflow.Start(ctx, p, workflow.Chain("two", workflow.Task("a", def, "a"), workflow.Task("b", def, "b")).With(workflow.Force()))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := in.CancelWorkflow(ctx, run.ID); n != 2 || err != nil {
		t.Fatalf("CancelWorkflow: %d, %v; want 2 steps", n, err)
	}
	if n, err := in.CancelWorkflow(ctx, run.ID); !errors.Is(err, inspect.ErrMovedOn) || n != 0 {
		t.Errorf("CancelWorkflow again: %d, %v; want ErrMovedOn", n, err)
	}
}

// TestCancelAFailedWorkflow: a step dead-lettered leaves its dependent
// unreachable and the workflow failed; cancelling it cancels the
// dependent, so that a replay would not resume it.
func TestCancelAFailedWorkflow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, p, in := setupQueues(t)
	bad := tasks.Define[string]("wf.bad")
	next := tasks.Define[string]("wf.next")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, bad, func(context.Context, *tasks.Task[string]) error { return tasks.Permanent(errors.New("no such file")) })
	tasks.MustHandle(reg, next, func(context.Context, *tasks.Task[string]) error { return nil })
	runWorker(t, srv, reg)
	run, err := workflow.Start(ctx, p, workflow.Chain("fails", workflow.Task("read", bad, "x"), workflow.Task("write", next, "y")).With(workflow.Force()))
	if err != nil {
		t.Fatal(err)
	}
	var w inspect.WorkflowInfo
	waitFor(t, func() error {
		if w, err = in.Workflow(ctx, run.ID); err != nil {
			return err
		}
		if w.State != "failed" {
			return fmt.Errorf("workflow %s, want failed", w.State)
		}
		return nil
	})
	if r := w.Steps[0]; r.State != "dead_lettered" || r.Attempts != 1 || r.Error == "" || r.TaskID != run.ID+":read" {
		t.Errorf("the failed step: %+v", r)
	}
	if s := w.Steps[1]; s.State != "unreachable" || s.Deps[0] != "read" {
		t.Errorf("its dependent: %+v", s)
	}
	if !w.Cancellable() {
		t.Errorf("a failed workflow is not cancellable")
	}
	if n, err := in.CancelWorkflow(ctx, run.ID); n != 1 || err != nil {
		t.Errorf("CancelWorkflow of a failed workflow: %d, %v; want 1 step", n, err)
	}
}
