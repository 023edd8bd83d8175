package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/workflow"
)

// TestWorkflowShowAndCancel shows a workflow whose steps no worker serves
// yet, as a table and as JSON, then cancels it: asked on a terminal and
// refused without one unless --yes; a second cancel is refused, and an
// unknown or empty ID is an error that says so.
func TestWorkflowShowAndCancel(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	ctx := context.Background()
	fetch := tasks.Define[string]("image.fetch")
	resize := tasks.Define[string]("image.resize")
	run, err := workflow.Start(ctx, jetqtest.NewProducer(t, c.js), workflow.New("thumbnail", workflow.WithID("thumb-7"), workflow.Force()).Add(
		workflow.Task("fetch", fetch, "cat.png"),
		workflow.Task("small", resize, "64").After("fetch"),
		workflow.Task("large", resize, "512").After("fetch"),
	))
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut := c.jetq("workflow", "show", run.ID)
	if code != 0 {
		t.Fatalf("workflow show: exit %d, %q", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if want := "workflow thumb-7 (thumbnail): running, 3 step(s): 1 queued, 2 waiting"; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	table := strings.Join(lines[3:], "\n")
	for _, row := range [][]string{
		{"STEP", "TASK", "STATE", "ATTEMPTS", "RESULT", "AFTER", "TASK", "ID", "ERROR"},
		{"fetch", "image.fetch", "queued", "-", "-", "-", "thumb-7:fetch", "-"},
		{"small", "image.resize", "waiting", "-", "-", "fetch", "thumb-7:small", "-"},
	} {
		if !containsFields(table, row) {
			t.Errorf("table has no row %v:\n%s", row, out)
		}
	}
	code, out, _ = c.jetq("workflow", "show", run.ID, "--json")
	var w inspect.WorkflowInfo
	if code != 0 || json.Unmarshal([]byte(out), &w) != nil || w.ID != "thumb-7" || len(w.Steps) != 3 || w.Steps[2].Deps[0] != "fetch" {
		t.Errorf("workflow show --json: exit %d\n%s", code, out)
	}

	// Cancel: no terminal to ask on, then a terminal answering no, then yes.
	if code, _, errOut := c.jetqIn(input{}, "workflow", "cancel", run.ID); code != exitUsage || !strings.Contains(errOut, "--yes") {
		t.Errorf("cancel without a terminal: exit %d, %q; want a usage error naming --yes", code, errOut)
	}
	if code, _, errOut := c.jetqIn(input{r: strings.NewReader("n\n"), terminal: true}, "workflow", "cancel", run.ID); code != exitError || !strings.Contains(errOut, "not confirmed") {
		t.Errorf("cancel answered no: exit %d, %q", code, errOut)
	}
	code, out, errOut = c.jetqIn(input{r: strings.NewReader("y\n"), terminal: true}, "workflow", "cancel", run.ID)
	if code != 0 || out != "workflow thumb-7: cancelled, 3 step(s) will not run\n" || !strings.Contains(errOut, "3 step(s): 1 queued, 2 waiting") {
		t.Errorf("cancel answered yes: exit %d, %q, %q", code, out, errOut)
	}
	if code, _, errOut := c.jetq("workflow", "cancel", run.ID, "--yes"); code != exitError || !strings.Contains(errOut, "cancelled") || !strings.Contains(errOut, "nothing changed") {
		t.Errorf("cancel again: exit %d, %q", code, errOut)
	}
	if code, out, _ := c.jetq("workflow", "show", run.ID); code != 0 || !strings.Contains(out, "thumb-7 (thumbnail): cancelled, 3 step(s): 3 cancelled") {
		t.Errorf("show after cancel: exit %d\n%s", code, out)
	}

	if code, _, errOut := c.jetq("workflow", "show", "nope"); code != exitError || !strings.Contains(errOut, "not found") {
		t.Errorf("show an unknown workflow: exit %d, %q", code, errOut)
	}
	if code, _, errOut := c.jetq("workflow", "cancel", " ", "--yes"); code != exitUsage || !strings.Contains(errOut, "empty") {
		t.Errorf("cancel an empty ID: exit %d, %q", code, errOut)
	}
}

// containsFields reports whether a line of table holds fields, in order,
// as its whitespace-separated fields.
func containsFields(table string, fields []string) bool {
	for _, l := range strings.Split(table, "\n") {
		if strings.Join(strings.Fields(l), " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}
