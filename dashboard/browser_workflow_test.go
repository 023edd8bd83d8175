package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/workflow"
)

// failedDiamond starts the workflow img-1 on js with a worker: fetch,
// then small and large, then publish after both; large fails for good, so
// publish is unreachable and the workflow failed. It returns once the
// workflow has failed and small is done.
func failedDiamond(t *testing.T, w *taskWorld) {
	t.Helper()
	ctx := context.Background()
	ok := tasks.Define[string]("image.ok")
	bad := tasks.Define[string]("image.bad")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, ok, func(context.Context, *tasks.Task[string]) error { return nil })
	tasks.MustHandle(reg, bad, func(context.Context, *tasks.Task[string]) error {
		return tasks.Permanent(errors.New("image too large"))
	})
	startWorker(t, w.js, reg)
	if _, err := workflow.Start(ctx, jetqtest.NewProducer(t, w.js), workflow.New("thumbnails", workflow.WithID("img-1"), workflow.Force()).Add(
		workflow.Task("fetch", ok, "cat.png"),
		workflow.Task("small", ok, "64").After("fetch"),
		workflow.Task("large", bad, "4096").After("fetch"),
		workflow.Task("publish", ok, "cat.png").After("small", "large"),
	)); err != nil {
		t.Fatal(err)
	}
	in, err := inspect.New(w.js)
	if err != nil {
		t.Fatal(err)
	}
	// The workflow fails when large is dead-lettered, which may be before
	// small has run: wait for both.
	testkit.WaitFor(t, 30*time.Second, func() error {
		wf, err := in.Workflow(ctx, "img-1")
		if err != nil {
			return err
		}
		small := slices.IndexFunc(wf.Steps, func(s inspect.WorkflowStep) bool { return s.Name == "small" })
		if wf.State != "failed" || small < 0 || wf.Steps[small].State != "done" {
			return fmt.Errorf("workflow %s, steps %+v", wf.State, wf.Steps)
		}
		return nil
	})
}

// TestBrowserWorkflow opens a failed workflow's page: its steps' graph and
// table with their states and dependencies; follows a step to its task
// page, which links back to the workflow; then signs in and cancels the
// workflow, confirming the dialog.
func TestBrowserWorkflow(t *testing.T) {
	w := newTaskWorld(t)
	failedDiamond(t, w)
	shots := os.Getenv(screenshotsEnv)
	if shots == "" {
		shots = t.TempDir()
	}
	state := func(step string) string { return fmt.Sprintf(`#steps tr[data-step=%q] td.state`, step) }
	w.b.do("the workflow's page", chromedp.Navigate(w.base+"/workflow?id=img-1"), waitURL("/workflow/img-1"), visible("#steps"),
		pollText("#wf-state", "failed"), shot(shots, "workflow"))
	for step, want := range map[string]string{"fetch": "done", "small": "done", "large": "dead_lettered", "publish": "unreachable"} {
		if got := w.b.text(state(step)); got != want {
			t.Errorf("step %s: %q, want %q", step, got, want)
		}
	}
	if got := w.b.text(`#steps tr[data-step="publish"] td:nth-child(6)`); got != "small, large" {
		t.Errorf("publish waits for %q, want \"small, large\"", got)
	}
	if got := w.b.text(`#steps tr[data-step="large"] td.error`); !strings.Contains(got, "image too large") {
		t.Errorf("large's error: %q", got)
	}
	graph, err := chromedp.Run(w.b.ctx, chromedp.Evaluate[string](
		`document.querySelectorAll("#graph g.node").length + " nodes, " + document.querySelectorAll("#graph line.edge").length + " edges"`))
	if err != nil || graph != "4 nodes, 4 edges" {
		t.Errorf("graph: %s, %v; want 4 nodes, 4 edges", graph, err)
	}

	// A step's task page, and back.
	w.b.do("open the failed step", click(`#steps tr[data-step="large"] td:first-child a`), waitURL("id=img-1"), visible("#task-workflow"),
		visible("#task-dlq"))
	w.b.do("back to its workflow", click("#task-workflow a"), waitURL("/workflow/img-1"), visible("#steps"))
	// A step done has no message or dead-letter record to name its
	// workflow: its task ID does.
	w.b.do("open a step done", click(`#steps tr[data-step="small"] td:first-child a`), waitURL("small"), visible("#task-workflow"))
	if got := w.b.text("#task-workflow"); got != "A step of workflow img-1." {
		t.Errorf("a step done: %q, want a link to its workflow", got)
	}
	w.b.do("back to its workflow", click("#task-workflow a"), waitURL("/workflow/img-1"), visible("#steps"))

	// Cancel, signed in, after the dialog.
	w.signIn("/workflow/img-1")
	asked := w.b.acceptDialogs()
	w.b.do("cancel the workflow", click("#workflow-cancel"), waitURL("done=workflow-cancelled"), visible("#flash"))
	if q := dialog(asked); !strings.HasPrefix(q, "Cancel workflow img-1?") {
		t.Errorf("the dialog asked %q", q)
	}
	if got, want := w.b.text("#flash"), "Workflow cancelled: 1 step will not run."; got != want {
		t.Errorf("flash %q, want %q", got, want)
	}
	if got := w.b.text("#wf-state"); got != "cancelled" {
		t.Errorf("workflow state after cancel: %q", got)
	}
	if got := w.b.text(state("publish")); got != "cancelled" {
		t.Errorf("publish after cancel: %q", got)
	}
	if button, _ := chromedp.Run(w.b.ctx, chromedp.Evaluate[bool](`document.querySelector("#workflow-cancel") !== null`)); button {
		t.Errorf("a cancelled workflow still offers its cancel button")
	}
}

// TestWorkflowPageHTTP: an unknown workflow is 404; the find form
// redirects to the workflow's page; a cancel needs the token, and a
// workflow cancelled already is a conflict.
func TestWorkflowPageHTTP(t *testing.T) {
	w := &taskWorld{t: t, js: embeddedtest.JetStream(t)}
	c := serve(t, w.js, dashboard.WithActions(token))
	if code, body := c.get("/workflow/nope"); code != http.StatusNotFound || !strings.Contains(body, "not found") {
		t.Errorf("an unknown workflow: %d %s", code, body)
	}
	failedDiamond(t, w)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(c.base + "/workflow?id=img-1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code, loc := resp.StatusCode, resp.Header.Get("Location")
	if code != http.StatusSeeOther || loc != "/workflow/img-1" {
		t.Errorf("find img-1: %d, Location %q", code, loc)
	}
	if code, body := c.get("/workflow/img-1"); code != http.StatusOK || !strings.Contains(body, `id="workflow-cancel"`) {
		t.Errorf("a failed workflow's page: %d, no cancel button:\n%s", code, body)
	}
	if code, _ := c.post("/workflow/img-1/cancel", nil, nil); code != http.StatusForbidden {
		t.Errorf("cancel without the token: %d, want 403", code)
	}
	bearer := http.Header{"Authorization": {"Bearer " + token}}
	code, _, loc = c.postFor("/workflow/img-1/cancel", url.Values{}, bearer)
	if code != http.StatusSeeOther || loc != "/workflow/img-1?done=workflow-cancelled&n=1" {
		t.Errorf("cancel: %d, Location %q", code, loc)
	}
	if code, body := c.post("/workflow/img-1/cancel", nil, bearer); code != http.StatusConflict || !strings.Contains(body, "cancelled") {
		t.Errorf("cancel again: %d %s", code, body)
	}
}
