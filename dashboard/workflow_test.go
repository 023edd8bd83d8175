package dashboard_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// putStatus writes st through the status store as the worker writes a
// task's final record: one write, with its TTL.
func putStatus(t *testing.T, store *statusstore.Store, st status.Status) {
	t.Helper()
	if err := store.Final(context.Background(), st, time.Hour); err != nil {
		t.Fatal(err)
	}
}

// TestCompletedColumnsAndResult lists the final records of a type with
// retention, written as the worker writes them: the completed list shows
// attempts, duration, result size and error, and the list's note; the
// task page shows when the last attempt ran, the result's size and the
// result itself, unless payloads are hidden.
func TestCompletedColumnsAndResult(t *testing.T) {
	js := embeddedtest.JetStream(t)
	store, err := statusstore.New(js, topology.Topology{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	putStatus(t, store, status.Status{ID: "rep-1", Task: "report.build", Queue: "default", State: status.Done, Attempt: 2, MaxAttempts: 5,
		EnqueuedAt: at, StartedAt: at, FinishedAt: at.Add(1400 * time.Millisecond), Result: []byte(`{"rows":12,"file":"q3.csv"}`),
		ResultSize: 27, ContentType: "application/json", Error: "attempt 1: upstream 503"})
	putStatus(t, store, status.Status{ID: "rep-2", Task: "report.build", Queue: "default", State: status.DeadLettered, Attempt: 3, EnqueuedAt: at})

	c := serve(t, js)
	code, body := c.get("/tasks/completed")
	if code != http.StatusOK {
		t.Fatalf("completed list: %d %s", code, body)
	}
	for _, want := range []string{"<th>Attempts</th><th>Duration</th><th>Result</th><th>Error</th>",
		"<td>2</td><td>1.4s</td><td>27 B</td><td class=\"error\">attempt 1: upstream 503</td>", `id="list-note"`, "read 2 of 2 status records"} {
		if !strings.Contains(body, want) {
			t.Errorf("completed list has no %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "rep-2") {
		t.Errorf("a dead-lettered task is listed as completed")
	}

	_, body = c.get("/tasks?id=rep-1")
	for _, want := range []string{`<dd id="ran">2026-12-07 10:00:00Z to 2026-12-07 10:00:01Z (1.4s)</dd>`,
		`<dd id="result-size">27 B, application/json</dd>`, "&#34;file&#34;: &#34;q3.csv&#34;"} {
		if !strings.Contains(body, want) {
			t.Errorf("task page has no %q:\n%s", want, body)
		}
	}
	// A result too large for its record is in the results object store:
	// its size shows, and no preview.
	putStatus(t, store, status.Status{ID: "rep-3", Task: "report.build", Queue: "default", State: status.Done, Attempt: 1,
		EnqueuedAt: at, StartedAt: at, FinishedAt: at.Add(time.Second), Result: []byte(`"` + strings.Repeat("x", 40000) + `"`),
		ContentType: "application/json"})
	_, body = c.get("/tasks?id=rep-3")
	if !strings.Contains(body, `<dd id="result-size">39 KiB, application/json (in the results object store)</dd>`) || strings.Contains(body, `id="result"`) {
		t.Errorf("a large result's task page:\n%s", body)
	}
	_, body = serve(t, js, dashboard.WithHidePayloads()).get("/tasks?id=rep-1")
	if strings.Contains(body, "q3.csv") || !strings.Contains(body, "Results are hidden") {
		t.Errorf("a dashboard hiding payloads shows the result:\n%s", body)
	}
}

// TestTaskPageLinksToWorkflow: a step's dead-letter record names its
// workflow (header Jetq-Workflow), and the task page links to the
// workflow's page.
func TestTaskPageLinksToWorkflow(t *testing.T) {
	js := embeddedtest.JetStream(t)
	if _, err := provision.Ensure(context.Background(), js, topology.Topology{}, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	names := wire.Names{}
	spec := tasks.Define[int]("report.step").Spec()
	env := wire.NewEnvelope(names, spec, "wf-7.fetch", []byte(`1`), time.Now().Add(-time.Minute))
	h := nats.Header(env.Header)
	h.Set("Jetq-Workflow", "wf-7")
	rec := wire.DeadLetter(names, spec.Queue, spec.Name, h, []byte(`1`), wire.Failure{Reason: tasks.ReasonPermanent, Error: "no",
		Stream: "JETQ_TASKS", Seq: 1, Subject: env.Subject, Deliveries: 1, At: time.Now()}, wire.Limits{})
	if _, err := js.PublishMsg(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	c := serve(t, js)
	_, body := c.get("/tasks?id=wf-7.fetch")
	if !strings.Contains(body, `<p id="task-workflow">A step of workflow <a href="/workflow/wf-7">wf-7</a>.</p>`) {
		t.Errorf("the step's task page does not link to its workflow:\n%s", body)
	}
}
