package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/topology"
)

// TestTasksLsCompletedColumns lists the final records of a type with
// retention, written through the status store as the worker writes them:
// the completed table shows each task's attempts, duration, result size
// and error, and --json carries them.
func TestTasksLsCompletedColumns(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	ctx := context.Background()
	store, err := statusstore.New(c.js, topology.Topology{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, st := range []status.Status{
		{ID: "rep-1", Task: "report.build", Queue: "default", State: status.Done, Attempt: 2, EnqueuedAt: at,
			StartedAt: at, FinishedAt: at.Add(1400 * time.Millisecond), Result: make([]byte, 4300), ResultSize: 4300,
			Error: "attempt 1: upstream 503"},
		{ID: "rep-2", Task: "report.build", Queue: "default", State: status.DeadLettered, Attempt: 3, EnqueuedAt: at},
	} {
		if err := store.Final(ctx, st, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := c.jetq("tasks", "ls", "--state", "completed")
	if code != 0 {
		t.Fatalf("tasks ls --state completed: exit %d, %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		t.Fatalf("completed table:\n%s", out)
	}
	for _, col := range []string{"FINISHED AT", "ATTEMPTS", "DURATION", "RESULT", "ERROR"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("completed table header %q has no %s", lines[0], col)
		}
	}
	row := strings.Fields(lines[1])
	for _, cell := range []string{"rep-1", "2", "1.4s", "4.2", "KiB", "upstream"} {
		if !slices.Contains(row, cell) {
			t.Errorf("completed row %q has no cell %q", lines[1], cell)
		}
	}
	if strings.Contains(out, "rep-2") {
		t.Errorf("a dead-lettered task is listed as completed:\n%s", out)
	}
	p := c.page("completed")
	if len(p.Tasks) != 1 || p.Tasks[0].ID != "rep-1" || p.Tasks[0].Attempt != 2 {
		t.Errorf("completed --json: %+v", p.Tasks)
	}
	code, out, _ = c.jetq("tasks", "ls", "--state", "completed", "--json")
	if code != 0 || !strings.Contains(out, `"duration": 1400000000`) || !strings.Contains(out, `"result_size": 4300`) {
		t.Errorf("completed --json has no duration or result size:\n%s", out)
	}
}
