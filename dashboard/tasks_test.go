package dashboard_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// order is the payload of the task lists' tests.
type order struct {
	Customer struct {
		ID    int    `json:"id"`
		Email string `json:"email"`
	} `json:"customer"`
}

var orderShip = tasks.Define[order]("order.ship")

// enqueueOrders enqueues n order.ship tasks for customer id with opts and
// returns their IDs.
func enqueueOrders(t *testing.T, js jetstream.JetStream, n, customer int, opts ...producer.EnqueueOption) []string {
	t.Helper()
	p := newProducer(t, js)
	var o order
	o.Customer.ID, o.Customer.Email = customer, fmt.Sprintf("c%d@example.com", customer)
	orders := make([]order, n)
	for i := range orders {
		orders[i] = o
	}
	rs, err := producer.EnqueueBatch(context.Background(), p, orderShip, orders, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// newProducer returns a producer of js logging to t.
func newProducer(t *testing.T, js jetstream.JetStream) *producer.Producer {
	t.Helper()
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// streamMsgs counts the messages of the work and schedule streams, to
// show that a refused or failed request changed nothing.
func streamMsgs(t *testing.T, js jetstream.JetStream) (work, scheduled uint64) {
	t.Helper()
	ctx := context.Background()
	count := func(name string) uint64 {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return 0
		}
		return s.CachedInfo().State.Msgs
	}
	return count(wire.Names{}.WorkStream()), count(wire.Names{}.ScheduleStream())
}

// TestTaskListBadInput asks for an unknown list, a malformed filter and
// a bulk action over one: each answers with a message that says what is
// wrong and what to write, and nothing changes.
func TestTaskListBadInput(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	enqueueOrders(t, js, 3, 7)
	c := serve(t, js, dashboard.WithActions(token))
	bearer := http.Header{"Authorization": {"Bearer " + token}}
	work, _ := streamMsgs(t, js)
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/tasks/waiting", http.StatusNotFound, "no task list &#34;waiting&#34;: inspect: invalid query: unknown state &#34;waiting&#34;: use one of pending, running, retrying, scheduled, completed, failed"},
		{"/tasks/pending?where=customer.id", http.StatusBadRequest, "has no &#39;=&#39;: write &lt;path&gt;=&lt;value&gt;, such as customer.id=42"},
		{"/tasks/pending?where=customer..id%3D7", http.StatusBadRequest, "has an empty key"},
		{"/tasks/pending?where=%3D7", http.StatusBadRequest, "match has no path"},
		{"/tasks/retrying?since=yesterday", http.StatusBadRequest, "since must be a time such as 2026-12-01T15:04"},
		{"/tasks/failed?since=2026-12-02T00:00&until=2026-12-01T00:00", http.StatusBadRequest, "must be before until"},
	} {
		code, body := c.get(tc.path)
		if code != tc.code || !strings.Contains(body, tc.want) || !strings.Contains(body, `id="error-text"`) {
			t.Errorf("GET %s: %d, want %d with %q: %s", tc.path, code, tc.code, tc.want, body)
		}
	}
	for _, tc := range []struct {
		path string
		form url.Values
		code int
		want string
	}{
		{"/tasks/bulk/delete", url.Values{"where": {"customer.id"}}, http.StatusBadRequest, "has no &#39;=&#39;"},
		{"/tasks/bulk/delete", url.Values{"where": {"customer.id=7"}, "confirm": {"yes"}}, http.StatusBadRequest, "a confirmation carries the plan"},
		{"/tasks/bulk/delete", url.Values{"where": {"customer.id=7"}, "confirm": {"yes"}, "plan": {"forged"}, "count": {"3"}}, http.StatusBadRequest, "invalid query"},
		{"/tasks/bulk/explode", url.Values{}, http.StatusNotFound, "no task action &#34;explode&#34;"},
		{"/task/explode", url.Values{"id": {"x"}}, http.StatusNotFound, "no task action &#34;explode&#34;"},
		{"/task/delete", url.Values{"id": {"x"}, "seq": {"first"}}, http.StatusBadRequest, "seq must be the task&#39;s sequence"},
		{"/task/delete", url.Values{}, http.StatusBadRequest, "delete needs the task&#39;s id"},
	} {
		code, body := c.post(tc.path, tc.form, bearer)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("POST %s %v: %d, want %d with %q: %s", tc.path, tc.form, code, tc.code, tc.want, body)
		}
	}
	if after, _ := streamMsgs(t, js); after != work {
		t.Errorf("the work stream holds %d messages after bad requests, %d before", after, work)
	}
}

// TestTaskActionsNeedToken sends every task action without the token and
// with a wrong one: each is refused, and nothing changes.
func TestTaskActionsNeedToken(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	ids := enqueueOrders(t, js, 2, 7)
	c := serve(t, js, dashboard.WithActions(token))
	work, _ := streamMsgs(t, js)
	wrong := http.Header{"Authorization": {"Bearer wrong-token-of-some-length"}}
	for _, path := range []string{"/task/delete", "/task/run", "/task/cancel", "/task/retry",
		"/tasks/bulk/delete", "/tasks/bulk/run", "/tasks/bulk/cancel", "/tasks/bulk/retry", "/scheduled/periodic/remove"} {
		form := url.Values{"id": {ids[0]}, "seq": {"1"}, "name": {"nightly"}, "confirm": {"yes"}, "plan": {"x"}, "count": {"2"}}
		for _, h := range []http.Header{nil, wrong} {
			if code, body := c.post(path, form, h); code != http.StatusForbidden || !strings.Contains(body, "needs the dashboard&#39;s token") {
				t.Errorf("POST %s with %v: %d %s", path, h, code, body)
			}
		}
	}
	// A dashboard without actions refuses them all the same.
	ro := serve(t, js)
	if code, body := ro.post("/task/delete", url.Values{"id": {ids[0]}}, http.Header{"Authorization": {"Bearer " + token}}); code != http.StatusForbidden ||
		!strings.Contains(body, "actions are disabled") {
		t.Errorf("a delete on a read-only dashboard: %d %s", code, body)
	}
	if after, _ := streamMsgs(t, js); after != work {
		t.Errorf("the work stream holds %d messages after refused actions, %d before", after, work)
	}
}

// TestOverviewMarksQueueWithoutWorker shows a task type with pending
// tasks and no live worker marked on the overview, and one with a worker
// not.
func TestOverviewMarksQueueWithoutWorker(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	enqueueOrders(t, js, 2, 7)
	served := tasks.Define[int]("order.served")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, served, func(context.Context, *tasks.Task[int]) error { return nil })
	startWorker(t, js, reg)
	c := serve(t, js)
	testkit.WaitFor(t, 20*time.Second, func() error {
		_, body := c.get("/")
		if !strings.Contains(body, `data-key="default/order.served">`) {
			return fmt.Errorf("no row of order.served, or it is marked: %s", body)
		}
		if !strings.Contains(body, `data-key="default/order.ship" class="stalled"`) {
			return fmt.Errorf("order.ship, pending without a worker, is not marked: %s", body)
		}
		return nil
	})
}

// TestTaskPageOffersActions shows the task page's headers and the actions
// that fit the task: delete for a pending task, run now and cancel for a
// scheduled one, none on a dashboard that only reads.
func TestTaskPageOffersActions(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	pending := enqueueOrders(t, js, 1, 7, producer.WithHeader("Baggage", "user=ada"))[0]
	scheduled := enqueueOrders(t, js, 1, 7, producer.WithDelay(time.Hour))[0]
	c := serve(t, js, dashboard.WithActions(token))
	for _, tc := range []struct {
		id       string
		has, not []string
	}{
		{pending, []string{`id="task-delete"`, `<th>Baggage</th><td>user=ada</td>`}, []string{`id="task-run"`, `id="task-retry"`}},
		{scheduled, []string{`id="task-run"`, `id="task-cancel"`}, []string{`id="task-delete"`, `id="task-retry"`}},
	} {
		code, body := c.get("/tasks?id=" + url.QueryEscape(tc.id))
		if code != http.StatusOK {
			t.Fatalf("task %s: %d %s", tc.id, code, body)
		}
		for _, s := range tc.has {
			if !strings.Contains(body, s) {
				t.Errorf("task %s: no %s", tc.id, s)
			}
		}
		for _, s := range tc.not {
			if strings.Contains(body, s) {
				t.Errorf("task %s: %s offered", tc.id, s)
			}
		}
	}
	if _, body := serve(t, js).get("/tasks?id=" + url.QueryEscape(pending)); strings.Contains(body, `id="task-actions"`) {
		t.Errorf("a dashboard that only reads offers actions: %s", body)
	}
}

// TestTaskActionsOnTasksThatMovedOn deletes a task twice: the second
// delete says the task moved on and changes nothing. A bulk delete
// planned over three tasks, one of which is deleted before the
// confirmation, deletes the other two and says one had moved on.
func TestTaskActionsOnTasksThatMovedOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	enqueueOrders(t, js, 4, 7)
	c := serve(t, js, dashboard.WithActions(token))
	bearer := http.Header{"Authorization": {"Bearer " + token}}
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	p, err := in.Tasks(ctx, inspect.Query{State: inspect.Pending})
	if err != nil || len(p.Tasks) != 4 {
		t.Fatalf("pending: %v %v", p.Tasks, err)
	}
	first := p.Tasks[0]
	form := url.Values{"id": {first.ID}, "seq": {strconv.FormatUint(first.Seq, 10)}, "back": {"/tasks/pending?where=customer.id%3D7"}}
	if code, _, loc := c.postFor("/task/delete", form, bearer); code != http.StatusSeeOther ||
		loc != "/tasks/pending?done=task-delete&n=1&where=customer.id%3D7" {
		t.Errorf("delete: %d to %q", code, loc)
	}
	if code, body := c.post("/task/delete", form, bearer); code != http.StatusConflict || !strings.Contains(body, "moved on") {
		t.Errorf("delete again: %d %s", code, body)
	}

	code, body := c.post("/tasks/bulk/delete", url.Values{"where": {"customer.id=7"}}, bearer)
	plan := regexp.MustCompile(`name="plan" value="([^"]+)"`).FindStringSubmatch(body)
	if code != http.StatusOK || !strings.Contains(body, `<strong id="count">3</strong>`) || plan == nil {
		t.Fatalf("the bulk delete's confirmation: %d %s", code, body)
	}
	// The plan of one filter does not apply to another.
	other := url.Values{"where": {"customer.id=8"}, "confirm": {"yes"}, "plan": {html.UnescapeString(plan[1])}, "count": {"3"}}
	if code, body := c.post("/tasks/bulk/delete", other, bearer); code != http.StatusBadRequest {
		t.Errorf("a plan confirmed with another filter: %d %s", code, body)
	}
	if work, _ := streamMsgs(t, js); work != 3 {
		t.Fatalf("%d tasks left after a plan confirmed with another filter, want 3", work)
	}
	if err := in.Delete(ctx, p.Tasks[1].Ref()); err != nil {
		t.Fatal(err)
	}
	confirm := url.Values{"where": {"customer.id=7"}, "confirm": {"yes"}, "plan": {html.UnescapeString(plan[1])}, "count": {"3"}}
	code, _, loc := c.postFor("/tasks/bulk/delete", confirm, bearer)
	if code != http.StatusSeeOther {
		t.Fatalf("the bulk delete: %d", code)
	}
	if _, body := c.get(loc); !strings.Contains(body, "2 tasks deleted; 1 had moved on and was left alone.") {
		t.Errorf("after the bulk delete (%s): %s", loc, body)
	}
	if work, _ := streamMsgs(t, js); work != 0 {
		t.Errorf("%d tasks left", work)
	}
}
