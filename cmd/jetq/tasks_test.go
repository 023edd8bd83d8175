package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Order is the payload of the tasks these tests list and act on.
type Order struct {
	Customer struct {
		ID int `json:"id"`
	} `json:"customer"`
	Note string `json:"note,omitempty"`
}

func order(customer int, note string) Order {
	var o Order
	o.Customer.ID, o.Note = customer, note
	return o
}

// No worker serves these two: their tasks stay pending or scheduled.
var (
	shipOrder = tasks.Define[Order]("order.ship")
	billOrder = tasks.Define[Order]("order.bill")
)

// listed is one task of `tasks ls --json` as a test reads it.
type listed struct {
	ID            string          `json:"id"`
	Task          string          `json:"task"`
	Queue         string          `json:"queue"`
	State         string          `json:"state"`
	Seq           uint64          `json:"seq"`
	Position      uint64          `json:"position"`
	Worker        string          `json:"worker"`
	Attempt       int             `json:"attempt"`
	StartedAt     time.Time       `json:"started_at"`
	NextAttemptAt time.Time       `json:"next_attempt_at"`
	LastError     string          `json:"last_error"`
	RunAt         time.Time       `json:"run_at"`
	Payload       json.RawMessage `json:"payload"`
}

type listedPage struct {
	State string   `json:"state"`
	Tasks []listed `json:"tasks"`
	Next  string   `json:"next"`
}

// page runs `tasks ls --state state args... --json` and fails the test
// unless it succeeds.
func (c *cli) page(state string, args ...string) listedPage {
	c.t.Helper()
	args = append([]string{"tasks", "ls", "--state", state, "--json"}, args...)
	code, out, errOut := c.jetq(args...)
	var p listedPage
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil {
		c.t.Fatalf("jetq %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
	}
	return p
}

// ids lists the IDs of every task in state that args select, page after
// page.
func (c *cli) ids(state string, args ...string) []string {
	c.t.Helper()
	var ids []string
	for p := c.page(state, args...); ; p = c.page(state, append(args, "--page", p.Next)...) {
		for _, t := range p.Tasks {
			ids = append(ids, t.ID)
		}
		if p.Next == "" {
			return ids
		}
	}
}

// enqueuer enqueues Orders of def with their IDs.
func (c *cli) enqueuer() func(def *tasks.Definition[Order], id string, o Order, opts ...producer.EnqueueOption) {
	c.t.Helper()
	p, err := producer.New(c.js, producer.WithLogger(quietLog()))
	if err != nil {
		c.t.Fatal(err)
	}
	return func(def *tasks.Definition[Order], id string, o Order, opts ...producer.EnqueueOption) {
		c.t.Helper()
		if _, err := producer.Enqueue(context.Background(), p, def, o, append(opts, producer.WithID(id))...); err != nil {
			c.t.Fatal(err)
		}
	}
}

// sorted is ids sorted, to compare sets.
func sorted(ids []string) []string {
	return slices.Sorted(slices.Values(ids))
}

func TestTasksLsPendingPagesAndFilters(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	enqueue := c.enqueuer()
	for i, customer := range []int{7, 42, 7, 42, 7} {
		enqueue(shipOrder, fmt.Sprintf("o-%d", i+1), order(customer, ""))
	}
	enqueue(billOrder, "b-1", order(42, ""))

	// Pages of two, in the order the queue hands them out.
	var got []string
	var pages int
	for p := c.page("pending", "--task", "order.ship", "--limit", "2"); ; p = c.page("pending", "--task", "order.ship", "--limit", "2", "--page", p.Next) {
		pages++
		if len(p.Tasks) > 2 {
			t.Fatalf("page %d: %d tasks, want at most --limit 2", pages, len(p.Tasks))
		}
		for _, tk := range p.Tasks {
			got = append(got, tk.ID)
			if tk.Task != "order.ship" || tk.Queue != "default" || tk.State != "pending" || tk.Seq == 0 || tk.Position != uint64(len(got)) {
				t.Errorf("page %d: %+v; want a pending order.ship on default at position %d with its seq", pages, tk, len(got))
			}
		}
		if p.Next == "" || pages > 5 {
			break
		}
	}
	if want := []string{"o-1", "o-2", "o-3", "o-4", "o-5"}; !slices.Equal(got, want) || pages != 3 {
		t.Errorf("pending order.ship in pages of 2: got %v in %d pages, want %v in 3", got, pages, want)
	}

	// A payload field, compared as JSON; every type when --task is left out.
	if got := sorted(c.ids("pending", "--where", "customer.id=42")); !slices.Equal(got, []string{"b-1", "o-2", "o-4"}) {
		t.Errorf("--where customer.id=42: got %v, want b-1 o-2 o-4", got)
	}
	if got := c.ids("pending", "--where", `customer.id="42"`); len(got) != 0 {
		t.Errorf(`--where customer.id="42" matches the number 42: got %v, want none`, got)
	}
	if got := c.ids("pending", "--queue", "elsewhere"); len(got) != 0 {
		t.Errorf("--queue elsewhere: got %v, want none", got)
	}
	if got := c.ids("pending", "--task", "order.ship", "--until", "1h"); len(got) != 0 {
		t.Errorf("--until an hour ago: got %v, want none", got)
	}
	if got := c.ids("pending", "--task", "order.ship", "--since", "1h"); len(got) != 5 {
		t.Errorf("--since an hour ago: got %v, want all 5", got)
	}
	// A JSON payload prints as JSON.
	if p := c.page("pending", "--task", "order.bill"); len(p.Tasks) != 1 || compact(p.Tasks[0].Payload) != `{"customer":{"id":42}}` {
		t.Errorf("order.bill: %+v; want its payload as JSON", p.Tasks)
	}

	// The table: a header, RFC 3339 UTC times, and the next page's token last.
	code, out, errOut := c.jetq("tasks", "ls", "--state", "pending", "--task", "order.ship", "--limit", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "SEQ") || !strings.Contains(lines[0], "POSITION") ||
		!strings.Contains(lines[1], "o-1") || !regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`).MatchString(lines[1]) ||
		!strings.HasPrefix(lines[3], "(next page: --page ") {
		t.Errorf("tasks ls table: exit %d, stderr %q\n%s", code, errOut, out)
	}
	next := strings.TrimSuffix(strings.TrimPrefix(lines[3], "(next page: --page "), ")")
	if p := c.page("pending", "--task", "order.ship", "--limit", "2", "--page", next); len(p.Tasks) != 2 || p.Tasks[0].ID != "o-3" {
		t.Errorf("the token the table printed: %+v, want o-3 and o-4", p.Tasks)
	}
	if code, out, _ := c.jetq("tasks", "ls", "--state", "pending", "--task", "order.none"); code != 0 || out != "no pending task(s) with --task order.none\n" {
		t.Errorf("an empty list: exit %d, %q", code, out)
	}
}

func TestTasksBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	enqueue := c.enqueuer()
	for i := range 3 {
		enqueue(shipOrder, fmt.Sprintf("o-%d", i+1), order(42, ""))
	}
	enqueue(shipOrder, "later", order(42, ""), producer.WithDelay(time.Hour))
	pendingToken := c.page("pending", "--limit", "1").Next
	if pendingToken == "" {
		t.Fatal("a page of 1 of 3 pending tasks has no next token")
	}

	for _, tc := range []struct {
		args     []string
		code     int
		mentions []string
	}{
		{[]string{"tasks", "ls"}, exitUsage, []string{"--state is required", "pending"}},
		{[]string{"tasks", "ls", "--state", "sleeping"}, exitUsage, []string{`"sleeping"`, "retrying"}},
		{[]string{"tasks", "ls", "--state", "pending", "--where", "customer.id"}, exitUsage, []string{"--where", "customer.id"}},
		{[]string{"tasks", "ls", "--state", "pending", "--where", "=42"}, exitUsage, []string{"--where"}},
		{[]string{"tasks", "ls", "--state", "pending", "--since", "yesterday"}, exitUsage, []string{"--since", "neither a duration"}},
		{[]string{"tasks", "ls", "--state", "pending", "--limit", "0"}, exitUsage, []string{"--limit"}},
		{[]string{"tasks", "ls", "--state", "scheduled", "--page", pendingToken}, exitUsage, []string{"token"}},
		{[]string{"tasks", "ls", "--state", "pending", "--page", "not-a-token"}, exitUsage, []string{"token"}},
		{[]string{"tasks", "rm"}, exitUsage, []string{"--all"}},
		{[]string{"tasks", "rm", "--where", "customer.id", "--yes"}, exitUsage, []string{"--where"}},
		{[]string{"task", "rm"}, exitUsage, []string{"takes 1 argument(s)"}},
		{[]string{"task", "rm", " "}, exitUsage, []string{"task ID is empty"}},
		{[]string{"task", "rm", "nobody"}, exitError, []string{`"nobody"`, "nothing changed"}},
		// A pending task is not scheduled, nor retrying; a scheduled one is
		// not pending.
		{[]string{"task", "run", "o-1"}, exitError, []string{`"o-1"`, "nothing changed"}},
		{[]string{"task", "cancel", "nobody"}, exitError, []string{`"nobody"`, "no such task", "nothing changed"}},
		{[]string{"task", "cancel", " "}, exitUsage, []string{"task ID is empty"}},
		{[]string{"task", "retry", "o-1"}, exitError, []string{`"o-1"`, "nothing changed"}},
		{[]string{"task", "rm", "later"}, exitError, []string{`"later"`, "nothing changed"}},
	} {
		code, out, errOut := c.jetq(tc.args...)
		if code != tc.code || out != "" {
			t.Errorf("jetq %v: exit %d, stdout %q, stderr %q; want exit %d and no output", tc.args, code, out, errOut, tc.code)
			continue
		}
		for _, m := range tc.mentions {
			if !strings.Contains(errOut, m) {
				t.Errorf("jetq %v: stderr %q; want it to mention %q", tc.args, errOut, m)
			}
		}
	}
	if got := c.ids("pending"); !slices.Equal(got, []string{"o-1", "o-2", "o-3"}) {
		t.Errorf("pending after the refusals: %v, want o-1 o-2 o-3", got)
	}
	if got := c.ids("scheduled"); !slices.Equal(got, []string{"later"}) {
		t.Errorf("scheduled after the refusals: %v, want later", got)
	}
}

func TestTaskActionsOnPendingAndScheduled(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	enqueue := c.enqueuer()
	for i := range 4 {
		enqueue(shipOrder, fmt.Sprintf("o-%d", i+1), order(7, ""))
	}
	enqueue(shipOrder, "s-1", order(7, ""), producer.WithDelay(time.Hour))
	enqueue(shipOrder, "s-2", order(7, ""), producer.WithDelay(time.Hour))
	seqOf := map[string]uint64{}
	for _, tk := range c.page("pending").Tasks {
		seqOf[tk.ID] = tk.Seq
	}
	sched := c.page("scheduled").Tasks
	if len(sched) != 2 || time.Until(sched[0].RunAt) < 50*time.Minute {
		t.Fatalf("scheduled: %+v; want s-1 and s-2 due in an hour", sched)
	}

	// Delete a pending task by ID, and one by ID and sequence.
	if code, out, errOut := c.jetq("task", "rm", "o-1"); code != 0 || out != "task o-1: deleted\n" {
		t.Errorf("task rm o-1: exit %d, %q, %q", code, out, errOut)
	}
	if code, out, errOut := c.jetq("task", "rm", "o-3", "--seq", fmt.Sprint(seqOf["o-3"]), "--json"); code != 0 || compact(json.RawMessage(out)) != `{"action":"delete","id":"o-3"}` {
		t.Errorf("task rm o-3 --seq --json: exit %d, %q, %q", code, out, errOut)
	}
	// Gone already, or the sequence of another task: refused.
	if code, _, errOut := c.jetq("task", "rm", "o-1"); code != exitError || !strings.Contains(errOut, "nothing changed") {
		t.Errorf("task rm o-1 again: exit %d, %q", code, errOut)
	}
	if code, _, errOut := c.jetq("task", "rm", "o-4", "--seq", fmt.Sprint(seqOf["o-2"])); code != exitError || !strings.Contains(errOut, "nothing changed") {
		t.Errorf("task rm o-4 with the seq of o-2: exit %d, %q", code, errOut)
	}
	if got := c.ids("pending"); !slices.Equal(got, []string{"o-2", "o-4"}) {
		t.Errorf("pending after rm: %v, want o-2 o-4", got)
	}

	// Cancel one scheduled task, run the other now.
	if code, out, errOut := c.jetq("task", "cancel", "s-1"); code != 0 || out != "task s-1: cancelled\n" {
		t.Errorf("task cancel s-1: exit %d, %q, %q", code, out, errOut)
	}
	if code, out, errOut := c.jetq("task", "run", "s-2"); code != 0 || out != "task s-2: sent to run now\n" {
		t.Errorf("task run s-2: exit %d, %q, %q", code, out, errOut)
	}
	if got := c.ids("scheduled"); len(got) != 0 {
		t.Errorf("scheduled after cancel and run: %v, want none", got)
	}
	waitFor(t, func() bool { return slices.Contains(c.ids("pending"), "s-2") })
	// Both moved on: neither is scheduled any more, and s-1 is cancelled.
	for _, args := range [][]string{{"task", "run", "s-1"}, {"task", "cancel", "s-1"}, {"task", "run", "s-2"}} {
		if code, _, errOut := c.jetq(args...); code != exitError || !strings.Contains(errOut, "nothing changed") {
			t.Errorf("jetq %v: exit %d, %q; want a refusal", args, code, errOut)
		}
	}
	if got := sorted(c.ids("pending")); !slices.Equal(got, []string{"o-2", "o-4", "s-2"}) {
		t.Errorf("pending before the cancel: %v, want o-2 o-4 s-2", got)
	}
	// Cancel takes a task in any state: s-2, fired and queued now.
	if code, out, errOut := c.jetq("task", "cancel", "s-2"); code != 0 || out != "task s-2: cancelled\n" {
		t.Errorf("task cancel s-2: exit %d, %q, %q", code, out, errOut)
	}
	if got := sorted(c.ids("pending")); !slices.Equal(got, []string{"o-2", "o-4"}) {
		t.Errorf("pending at the end: %v, want o-2 o-4", got)
	}
	// jetq queues counts the two cancels in its CANCELLED column, as --json does.
	code, out, errOut := c.jetq("queues")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("queues: exit %d, %q\n%s", code, errOut, out)
	}
	col := slices.Index(strings.Fields(lines[0]), "CANCELLED")
	if row := strings.Fields(lines[1]); col < 0 || len(row) <= col || row[1] != "order.ship" || row[col] != "2" {
		t.Errorf("queues table: want CANCELLED 2 for order.ship\n%s", out)
	}
	var rows []inspect.QueueStats
	if code, out, _ := c.jetq("queues", "--json"); code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Cancelled != 2 {
		t.Errorf("queues --json: want cancelled 2: %s", out)
	}
}

// TestTasksBulkCountsFirst acts on the tasks a filter selects: the count
// in the question is the count acted on, and nothing else is touched.
func TestTasksBulkCountsFirst(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	enqueue := c.enqueuer()
	var want42, wantOther []string
	for i := range 20 {
		id := fmt.Sprintf("o-%02d", i)
		customer := 7
		if i%3 == 0 {
			customer = 42
			want42 = append(want42, id)
		} else {
			wantOther = append(wantOther, id)
		}
		enqueue(shipOrder, id, order(customer, ""))
	}
	for i := range 5 {
		enqueue(billOrder, fmt.Sprintf("b-%d", i), order(42, ""))
	}
	filter := []string{"--task", "order.ship", "--where", "customer.id=42"}
	question := fmt.Sprintf("delete %d pending task(s) with --task order.ship --where customer.id=42?", len(want42))
	unchanged := func(when string) {
		t.Helper()
		if got := c.ids("pending", "--task", "order.ship"); len(got) != 20 {
			t.Errorf("%s: %d pending order.ship tasks, want 20", when, len(got))
		}
	}

	// No terminal and no --yes: the count, and a refusal naming --yes.
	code, out, errOut := c.jetqIn(input{r: strings.NewReader("y\n")}, append([]string{"tasks", "rm"}, filter...)...)
	if code != exitUsage || out != "" || !strings.Contains(errOut, question) || !strings.Contains(errOut, "--yes") {
		t.Errorf("tasks rm without a terminal: exit %d, out %q, stderr %q; want the count and --yes named", code, out, errOut)
	}
	unchanged("after a refusal")
	// A terminal answering no.
	code, _, errOut = c.jetqIn(input{r: strings.NewReader("n\n"), terminal: true}, append([]string{"tasks", "rm"}, filter...)...)
	if code != exitError || !strings.Contains(errOut, question+" [y/N]") || !strings.Contains(errOut, "not confirmed") {
		t.Errorf("tasks rm answered no: exit %d, stderr %q", code, errOut)
	}
	unchanged("after a no")
	// A terminal answering yes: the count asked is the count deleted.
	code, out, errOut = c.jetqIn(input{r: strings.NewReader("y\n"), terminal: true}, append([]string{"tasks", "rm"}, filter...)...)
	if want := fmt.Sprintf("%d of %d pending task(s) with --task order.ship --where customer.id=42 deleted\n", len(want42), len(want42)); code != 0 || out != want {
		t.Errorf("tasks rm answered yes: exit %d, out %q, stderr %q; want %q", code, out, errOut, want)
	}
	if got := c.ids("pending", "--task", "order.ship"); !slices.Equal(got, wantOther) {
		t.Errorf("order.ship left pending: %v, want %v", got, wantOther)
	}
	if got := c.ids("pending", "--task", "order.bill"); len(got) != 5 {
		t.Errorf("order.bill left pending: %v, want all 5 untouched", got)
	}
	// Nothing left to select: nothing asked.
	if code, out, _ := c.jetqIn(input{}, append([]string{"tasks", "rm"}, filter...)...); code != 0 || !strings.HasPrefix(out, "no pending task(s) with --task order.ship") {
		t.Errorf("tasks rm with nothing selected: exit %d, %q", code, out)
	}

	// Scheduled tasks: cancel by filter, run the rest now, under --json.
	for i := range 6 {
		enqueue(billOrder, fmt.Sprintf("later-%d", i), order(i%2, ""), producer.WithDelay(time.Hour))
	}
	code, out, errOut = c.jetq("tasks", "cancel", "--task", "order.bill", "--where", "customer.id=1", "--yes", "--json")
	if code != 0 || compact(json.RawMessage(out)) != `{"action":"cancel","counted":3,"done":3,"moved_on":0,"more":false}` {
		t.Errorf("tasks cancel --json: exit %d, %q, %q", code, out, errOut)
	}
	code, out, errOut = c.jetq("tasks", "run", "--all", "--yes")
	if code != 0 || out != "3 of 3 scheduled task(s) sent to run now\n" {
		t.Errorf("tasks run --all --yes: exit %d, %q, %q", code, out, errOut)
	}
	if got := c.ids("scheduled"); len(got) != 0 {
		t.Errorf("scheduled after cancel and run: %v, want none", got)
	}
	waitFor(t, func() bool { return len(c.ids("pending", "--task", "order.bill")) == 8 })
	if got := sorted(c.ids("pending", "--task", "order.bill", "--where", "customer.id=0")); !slices.Equal(got, []string{"later-0", "later-2", "later-4"}) {
		t.Errorf("the tasks run now: %v, want later-0 later-2 later-4", got)
	}
}

// TestTasksRunningAndRetrying lists a running task and retrying ones, and
// retries them now, one and then the rest by filter.
func TestTasksRunningAndRetrying(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	def := tasks.Define[Order]("order.pack", tasks.WithStateTracking(), tasks.WithMaxAttempts(5))
	release := make(chan struct{})
	var mu sync.Mutex
	attempts := map[string]int{}
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Order]) error {
		mu.Lock()
		attempts[tk.ID]++
		n := attempts[tk.ID]
		mu.Unlock()
		switch tk.Payload.Note {
		case "bad":
			return tasks.Permanent(errContent("no such warehouse"))
		case "block":
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}
		if n == 1 {
			return tasks.RetryAfter(time.Hour, errContent("warehouse closed"))
		}
		return nil
	})
	attemptsOf := func(id string) int {
		mu.Lock()
		defer mu.Unlock()
		return attempts[id]
	}
	c.runWorker(reg)
	p, err := producer.New(c.js, producer.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"busy", "r-1", "r-2", "r-3", "bad"} {
		note := map[string]string{"busy": "block", "bad": "bad"}[id]
		if _, err := producer.Enqueue(context.Background(), p, def, order(7, note), producer.WithID(id)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { close(release) })

	// Running: its worker, attempt and start.
	var running listedPage
	waitFor(t, func() bool { running = c.page("running", "--task", "order.pack"); return len(running.Tasks) == 1 })
	if tk := running.Tasks[0]; tk.ID != "busy" || tk.Worker == "" || tk.Attempt != 1 || tk.StartedAt.IsZero() {
		t.Errorf("running: %+v; want busy with its worker, attempt 1 and start", tk)
	}
	if code, out, _ := c.jetq("tasks", "ls", "--state", "running"); code != 0 || !strings.Contains(out, "WORKER") || !strings.Contains(out, "busy") {
		t.Errorf("running table: exit %d\n%s", code, out)
	}
	// A running task is no longer pending: rm refuses it and it runs on.
	if code, _, errOut := c.jetq("task", "rm", "busy"); code != exitError || !strings.Contains(errOut, "nothing changed") {
		t.Errorf("task rm of a running task: exit %d, %q", code, errOut)
	}

	// Retrying: the next attempt in an hour, and the last error.
	var retrying listedPage
	waitFor(t, func() bool { retrying = c.page("retrying", "--task", "order.pack"); return len(retrying.Tasks) == 3 })
	for _, tk := range retrying.Tasks {
		if time.Until(tk.NextAttemptAt) < 50*time.Minute || !strings.Contains(tk.LastError, "warehouse closed") || tk.Attempt != 1 {
			t.Errorf("retrying: %+v; want the next attempt in an hour after attempt 1 failed with warehouse closed", tk)
		}
	}
	if code, out, _ := c.jetq("tasks", "ls", "--state", "retrying"); code != 0 || !strings.Contains(out, "NEXT ATTEMPT AT") || !strings.Contains(out, "warehouse closed") {
		t.Errorf("retrying table: exit %d\n%s", code, out)
	}

	// Retry one now; then it is no longer retrying.
	if code, out, errOut := c.jetq("task", "retry", "r-1"); code != 0 || out != "task r-1: sent to retry now\n" {
		t.Errorf("task retry r-1: exit %d, %q, %q", code, out, errOut)
	}
	waitFor(t, func() bool { return attemptsOf("r-1") == 2 })
	waitFor(t, func() bool { return !slices.Contains(c.ids("retrying"), "r-1") })
	if code, _, errOut := c.jetq("task", "retry", "r-1"); code != exitError || !strings.Contains(errOut, "nothing changed") {
		t.Errorf("task retry r-1 again: exit %d, %q", code, errOut)
	}
	// The rest by filter.
	code, out, errOut := c.jetq("tasks", "retry", "--task", "order.pack", "--yes")
	if code != 0 || out != "2 of 2 retrying task(s) with --task order.pack sent to retry now\n" {
		t.Errorf("tasks retry: exit %d, %q, %q", code, out, errOut)
	}
	waitFor(t, func() bool { return attemptsOf("r-2") == 2 && attemptsOf("r-3") == 2 })
	if attemptsOf("busy") != 1 {
		t.Errorf("busy ran %d times; want once, untouched", attemptsOf("busy"))
	}

	// Completed and failed, as the tracked type records them.
	waitFor(t, func() bool {
		return slices.Equal(sorted(c.ids("completed", "--task", "order.pack")), []string{"r-1", "r-2", "r-3"})
	})
	waitFor(t, func() bool { return slices.Equal(c.ids("failed", "--task", "order.pack"), []string{"bad"}) })
	code, out, _ = c.jetq("tasks", "ls", "--state", "failed")
	if code != 0 || !strings.Contains(out, "FINISHED AT") || !strings.Contains(out, "permanent") || !strings.Contains(out, "no such warehouse") {
		t.Errorf("failed table: exit %d\n%s", code, out)
	}
	if code, out, _ := c.jetq("tasks", "ls", "--state", "completed"); code != 0 || !strings.Contains(out, "FINISHED AT") || !strings.Contains(out, "r-1") {
		t.Errorf("completed table: exit %d\n%s", code, out)
	}
}
