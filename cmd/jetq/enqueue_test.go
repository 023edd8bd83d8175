package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/internal/wire"
)

// enqueueJSON runs `jetq enqueue ... --json` and decodes what it prints.
func (c *cli) enqueueJSON(args ...string) enqueueResult {
	c.t.Helper()
	code, out, errOut := c.jetq(append(append([]string{"enqueue"}, args...), "--json")...)
	var r enqueueResult
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		c.t.Fatalf("jetq enqueue %v --json: exit %d, out %q, err %q", args, code, out, errOut)
	}
	checkEnqueueKeys(c.t, out)
	return r
}

// checkEnqueueKeys checks that out, what `jetq enqueue --json` printed, has
// the snake_case keys of a result and no others.
func checkEnqueueKeys(t *testing.T, out string) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("enqueue --json: %v: %q", err, out)
	}
	for _, k := range []string{"id", "stream", "seq", "duplicate"} {
		if _, ok := m[k]; !ok {
			t.Errorf("enqueue --json lacks %q: %s", k, out)
		}
	}
	for k := range m {
		switch k {
		case "id", "stream", "seq", "duplicate", "debounced", "error", "run_at":
		default:
			t.Errorf("enqueue --json has key %q: %s", k, out)
		}
	}
}

// deadlineOf reads the Jetq-Deadline header of the message at seq in stream.
func (c *cli) deadlineOf(stream string, seq uint64) time.Time {
	c.t.Helper()
	ctx := context.Background()
	st, err := c.js.Stream(ctx, stream)
	if err != nil {
		c.t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, seq)
	if err != nil {
		c.t.Fatal(err)
	}
	dl, err := wire.ParseTime(m.Header.Get(wire.HeaderDeadline))
	if err != nil {
		c.t.Fatalf("%s seq %d: deadline header: %v", stream, seq, err)
	}
	return dl
}

func TestEnqueueDelayedAndDeadline(t *testing.T) {
	t.Parallel()
	c := newCLI(t)

	// --delay: the task waits in the schedule stream, where scheduled ls finds it.
	before := time.Now()
	code, out, errOut := c.jetq("enqueue", "mail.remind", `{"to":"ada@example.com"}`, "--force", "--delay", "1h", "--id", "later-1")
	after := time.Now()
	const prefix = "mail.remind on queue default: enqueued to run at "
	if code != 0 || !strings.HasPrefix(out, prefix) || !strings.Contains(out, "(id later-1, JETQ_SCHEDULES seq ") {
		t.Fatalf("enqueue --delay 1h: exit %d, out %q, err %q", code, out, errOut)
	}
	shown, err := time.Parse(time.RFC3339, strings.Fields(strings.TrimPrefix(out, prefix))[0])
	if err != nil {
		t.Fatalf("run time in %q: %v", out, err)
	}
	code, out, errOut = c.jetq("scheduled", "ls", "--json")
	var rows []delayedRow
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].ID != "later-1" || rows[0].Task != "mail.remind" {
		t.Fatalf("scheduled ls --json: %d %q %q", code, out, errOut)
	}
	if runAt := rows[0].RunAt; runAt.Before(before.Add(time.Hour-time.Second)) || runAt.After(after.Add(time.Hour)) {
		t.Errorf("later-1 runs at %v, want an hour after the enqueue (%v to %v)", runAt, before, after)
	}
	if d := rows[0].RunAt.Sub(shown); d < -time.Second || d > 2*time.Second {
		t.Errorf("enqueue said it runs at %v, scheduled ls says %v", shown, rows[0].RunAt)
	}

	// --at, with an RFC 3339 deadline after it.
	at := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	deadline := at.Add(3 * time.Hour)
	r := c.enqueueJSON("mail.remind", `{"to":"grace@example.com"}`, "--force", "--id", "later-2",
		"--at", at.Format(time.RFC3339), "--deadline", deadline.UTC().Format(time.RFC3339))
	if !r.RunAt.Equal(at) || r.ID != "later-2" || r.Stream != "JETQ_SCHEDULES" || r.Sequence == 0 || r.Duplicate {
		t.Errorf("enqueue --at %v --json: %+v", at, r)
	}
	if dl := c.deadlineOf(r.Stream, r.Sequence); !dl.Equal(deadline) {
		t.Errorf("later-2 has deadline %v, want %v", dl, deadline)
	}
	code, out, _ = c.jetq("scheduled", "ls", "--json")
	rows = nil
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 || rows[1].ID != "later-2" || !rows[1].RunAt.Equal(at) {
		t.Errorf("scheduled ls after --at %v: %d %s", at, code, out)
	}

	// A time that has passed runs the task now, and a deadline as a
	// duration counts from now.
	before = time.Now()
	r = c.enqueueJSON("mail.remind", `{}`, "--force", "--at", "2020-01-01T00:00:00Z", "--deadline", "30m")
	after = time.Now()
	if r.Stream != "JETQ_TASKS" || !r.RunAt.IsZero() || r.Duplicate {
		t.Errorf("enqueue --at in the past: %+v", r)
	}
	if dl := c.deadlineOf(r.Stream, r.Sequence); dl.Before(before.Add(30*time.Minute-time.Second)) || dl.After(after.Add(30*time.Minute)) {
		t.Errorf("--deadline 30m: deadline %v, want 30 minutes after %v", dl, before)
	}
	code, out, _ = c.jetq("enqueue", "mail.remind", `{}`, "--force", "--json")
	if code != 0 || strings.Contains(out, "run_at") {
		t.Errorf("an immediate task's JSON names a run time: %d %s", code, out)
	}

	// Values the producer refuses are errors, not usage errors.
	for _, tc := range []struct {
		args     []string
		mentions string
	}{
		{[]string{"--delay=-1h"}, "delay must not be negative"},
		{[]string{"--deadline", "2020-01-01T00:00:00Z"}, "has passed already"},
		{[]string{"--delay", "2h", "--deadline", "1h"}, "is not after the time the task runs"},
		{[]string{"--at", at.Format(time.RFC3339), "--deadline", at.Add(-time.Minute).Format(time.RFC3339)}, "is not after the time the task runs"},
	} {
		args := append([]string{"enqueue", "mail.remind", `{}`, "--force"}, tc.args...)
		code, _, errOut := c.jetq(args...)
		if code != exitError || !strings.Contains(errOut, "producer: invalid option") || !strings.Contains(errOut, tc.mentions) {
			t.Errorf("jetq %v: exit %d, stderr %q; want exit %d mentioning %q", args, code, errOut, exitError, tc.mentions)
		}
	}
	if _, out, _ := c.jetq("scheduled", "ls", "--json"); strings.Count(out, `"id"`) != 2 {
		t.Errorf("a refused enqueue scheduled a task:\n%s", out)
	}
}

func TestEnqueueUnique(t *testing.T) {
	t.Parallel()
	c := newCLI(t)

	first := c.enqueueJSON("user.sync", `{"user":42}`, "--force", "--unique", "user:42")
	if first.Duplicate || first.Stream != "JETQ_TASKS" || first.ID == "" {
		t.Fatalf("first --unique user:42: %+v", first)
	}
	code, out, errOut := c.jetq("enqueue", "user.sync", `{"user":42}`, "--force", "--unique", "user:42")
	want := "user.sync on queue default: duplicate of " + first.ID + `, which holds unique key "user:42"; dropped` + "\n"
	if code != 0 || out != want {
		t.Errorf("second --unique user:42: exit %d, out %q, err %q; want %q", code, out, errOut, want)
	}
	if r := c.enqueueJSON("user.sync", `{"user":42}`, "--force", "--unique", "user:42", "--id", "sync-42"); !r.Duplicate || r.ID != first.ID || r.Stream != "" || !r.RunAt.IsZero() {
		t.Errorf("third --unique user:42 --json: %+v, want a duplicate of %s", r, first.ID)
	}

	// A delayed task holds its key too, and the plain output says when it runs.
	code, out, errOut = c.jetq("enqueue", "user.sync", `{"user":43}`, "--force", "--unique", "user:43", "--unique-ttl", "10m", "--delay", "1h", "--id", "sync-43")
	if code != 0 || !strings.Contains(out, "enqueued to run at ") || !strings.Contains(out, "(id sync-43, JETQ_SCHEDULES seq ") {
		t.Fatalf("--unique user:43 --delay 1h: exit %d, out %q, err %q", code, out, errOut)
	}
	code, out, _ = c.jetq("enqueue", "user.sync", `{"user":43}`, "--force", "--unique", "user:43")
	if code != 0 || !strings.Contains(out, "duplicate of sync-43,") {
		t.Errorf("--unique user:43 while sync-43 waits: exit %d, out %q", code, out)
	}

	// Only the first user:42 task reached the queue.
	var rows []queueRow
	code, out, _ = c.jetq("queues", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Task != "user.sync" || rows[0].Pending != 1 {
		t.Errorf("queues after the duplicates: %d %s", code, out)
	}

	for _, tc := range []struct {
		args     []string
		mentions string
	}{
		{[]string{"--unique", "user:44", "--unique-ttl", "500ms"}, "unique key TTL must be at least 1s"},
		{[]string{"--unique", ""}, "unique key must be 1 to"},
	} {
		args := append([]string{"enqueue", "user.sync", `{}`, "--force"}, tc.args...)
		code, _, errOut := c.jetq(args...)
		if code != exitError || !strings.Contains(errOut, tc.mentions) {
			t.Errorf("jetq %v: exit %d, stderr %q; want exit %d mentioning %q", args, code, errOut, exitError, tc.mentions)
		}
	}
}

// TestEnqueueBadTimingFlags checks the flags before connecting: there is no
// server at the address.
func TestEnqueueBadTimingFlags(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, url: "nats://127.0.0.1:1"}
	for _, tc := range []struct {
		args     []string
		mentions string
	}{
		{[]string{"--delay", "1h", "--at", "2030-01-01T00:00:00Z"}, "--delay and --at both say when the task runs; give one of them"},
		{[]string{"--unique-ttl", "10m"}, "give the key with --unique KEY"},
		{[]string{"--at", "tomorrow"}, `--at: "tomorrow" is not an RFC 3339 time`},
		{[]string{"--at", "2030-01-01"}, "for a time from now use --delay"},
		{[]string{"--delay", "1d"}, `invalid argument "1d" for "--delay" flag`},
		{[]string{"--delay"}, "flag needs an argument: --delay"},
		{[]string{"--deadline", "soon"}, `--deadline: "soon" is neither a duration like 2h or 7d nor an RFC 3339 time`},
		{[]string{"--deadline", ""}, "--deadline: empty"},
		{[]string{"--unique", "k", "--unique-ttl", "forever"}, `invalid argument "forever" for "--unique-ttl" flag`},
		{[]string{"--debounce", "doc-7"}, "--debounce KEY and --debounce-window DURATION go together"},
		{[]string{"--debounce-window", "5s"}, "--debounce KEY and --debounce-window DURATION go together"},
	} {
		args := append([]string{"enqueue", "email.send", `{}`, "--force"}, tc.args...)
		code, out, errOut := c.jetq(args...)
		if code != exitUsage || !strings.Contains(errOut, tc.mentions) || !strings.Contains(errOut, "Run 'jetq --help'") || out != "" {
			t.Errorf("jetq %v: exit %d, stdout %q, stderr %q; want exit %d mentioning %q", args, code, out, errOut, exitUsage, tc.mentions)
		}
	}
}

// lastSeq is the last sequence of the work stream: how many tasks reached it.
func (c *cli) lastSeq() uint64 {
	c.t.Helper()
	st, err := c.js.Stream(context.Background(), "JETQ_TASKS")
	if err != nil {
		c.t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	return info.State.LastSeq
}

func TestEnqueueChecksPayloadAndQueue(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.serve()
	waitFor(t, func() bool {
		_, err := c.js.Consumer(context.Background(), "JETQ_TASKS", "default:email:send")
		return err == nil
	})
	const refused = `payload refused: task "email.send" on queue "default" takes github.com/jetq/jetq/cmd/jetq.Email (as its workers recorded on consumer "default:email:send"): `
	for _, tc := range []struct {
		payload  string
		mentions string
	}{
		{`{"to":"ada@example.com","cc":"grace@example.com"}`, `$: unknown field "cc"; fix the payload, or use --force`},
		{`{"To":"ada@example.com"}`, `$: missing required field "to"; $: unknown field "To" (did you mean "to"?)`},
		{`{}`, `$: missing required field "to"`},
		{`{"to":42}`, `$.to: want string, got integer`},
		{`["ada@example.com"]`, `$: want object, got array`},
	} {
		code, out, errOut := c.jetq("enqueue", "email.send", tc.payload)
		if code != exitError || !strings.Contains(errOut, refused+tc.mentions) || out != "" {
			t.Errorf("enqueue email.send %s: exit %d, out %q, stderr %q; want exit %d mentioning %q", tc.payload, code, out, errOut, exitError, refused+tc.mentions)
		}
	}
	if n := c.lastSeq(); n != 0 {
		t.Fatalf("refused payloads reached the work stream: last seq %d", n)
	}

	// A task of that name on another queue: the error names the queue.
	code, out, errOut := c.jetq("enqueue", "email.send", `{"to":"ada@example.com"}`, "--queue", "mail")
	want := `unknown task "email.send" on queue "mail": no worker has served it (no consumer "mail:email:send" on JETQ_TASKS); ` +
		`a task of that name is served on queue "default": use --queue default, or --force`
	if code != exitError || !strings.Contains(errOut, want) || out != "" {
		t.Errorf("enqueue --queue mail: exit %d, out %q, stderr %q; want %q", code, out, errOut, want)
	}
	if n := c.lastSeq(); n != 0 {
		t.Fatalf("a task for an unserved queue reached the work stream: last seq %d", n)
	}

	// A matching payload goes, and --force overrides the check.
	if code, out, errOut := c.jetq("enqueue", "email.send", `{"to":"ada@example.com"}`); code != 0 || !strings.Contains(out, "enqueued") {
		t.Errorf("matching payload: exit %d, out %q, stderr %q", code, out, errOut)
	}
	if code, out, errOut := c.jetq("enqueue", "email.send", `{"to":"ada@example.com","cc":1}`, "--force"); code != 0 || !strings.Contains(out, "enqueued") {
		t.Errorf("--force: exit %d, out %q, stderr %q", code, out, errOut)
	}
	if n := c.lastSeq(); n != 2 {
		t.Errorf("work stream last seq %d, want 2", n)
	}
}

// TestEnqueueDebounce: enqueues of one key within the window are one task,
// the key's, and the second says it replaced the first; a bad key or window
// is refused.
func TestEnqueueDebounce(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	first := c.enqueueJSON("search.reindex", `{"doc":7,"rev":1}`, "--force", "--debounce", "doc-7", "--debounce-window", "1h")
	if first.Debounced || first.Stream != "JETQ_SCHEDULES" || first.ID != "debounce:default.search.reindex:doc-7" || first.RunAt.IsZero() {
		t.Fatalf("first --debounce doc-7: %+v", first)
	}
	code, out, errOut := c.jetq("enqueue", "search.reindex", `{"doc":7,"rev":2}`, "--force", "--debounce", "doc-7", "--debounce-window", "1h")
	if code != 0 || !strings.Contains(out, `debounced: replaced the task of key "doc-7" still waiting; runs at `) || !strings.Contains(out, "(id "+first.ID+", JETQ_SCHEDULES seq ") {
		t.Errorf("second --debounce doc-7: exit %d, out %q, err %q", code, out, errOut)
	}
	for _, tc := range []struct {
		args     []string
		mentions string
	}{
		{[]string{"--debounce", "", "--debounce-window", "1s"}, "debounce key is empty"},
		{[]string{"--debounce", "k", "--debounce-window", "0s"}, "debounce window 0s: it must be more than 0"},
		{[]string{"--debounce", "k", "--debounce-window", "1s", "--delay", "1m"}, "leave out WithDelay"},
	} {
		args := append([]string{"enqueue", "search.reindex", `{}`, "--force"}, tc.args...)
		code, _, errOut := c.jetq(args...)
		if code != exitError || !strings.Contains(errOut, tc.mentions) {
			t.Errorf("jetq %v: exit %d, stderr %q; want exit %d mentioning %q", args, code, errOut, exitError, tc.mentions)
		}
	}
}
