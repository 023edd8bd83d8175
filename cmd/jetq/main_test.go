package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type cli struct {
	t     *testing.T
	url   string
	js    jetstream.JetStream
	fixed atomic.Bool // the cause of failures is fixed: "@bad" addresses work
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	srv := embeddedtest.Server(t, embedded.WithListen("127.0.0.1:0"))
	_, js := embeddedtest.Connect(t, srv)
	return &cli{t: t, url: srv.ClientURL(), js: js}
}

// jetq runs the command line against the test server and returns its exit
// code, standard output and standard error.
func (c *cli) jetq(args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(args) == 0 || args[0] != "server" { // jetq server refuses client flags
		args = append([]string{"--server", c.url}, args...)
	}
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

type Email struct {
	To string `json:"to"`
}

var sendEmail = tasks.Define[Email]("email.send", tasks.WithMaxAttempts(1))

// serve runs a worker for email.send that fails permanently for addresses
// ending in "@bad", until the test ends.
func (c *cli) serve() {
	c.t.Helper()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, sendEmail, func(ctx context.Context, t *tasks.Task[Email]) error {
		if strings.HasSuffix(t.Payload.To, "@bad") && !c.fixed.Load() {
			return tasks.Permanent(errContent("mailbox does not exist"))
		}
		return nil
	})
	c.runWorker(reg)
}

type errContent string

func (e errContent) Error() string { return string(e) }

// waitFor waits until cond holds, for at most 20 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, 20*time.Second, func() error {
		if !cond() {
			return errors.New("condition not met")
		}
		return nil
	})
}

// waitForCmd waits until the command line succeeds, reporting its last error.
func (c *cli) waitForCmd(args ...string) {
	c.t.Helper()
	testkit.WaitFor(c.t, 30*time.Second, func() error {
		if code, _, errOut := c.jetq(args...); code != 0 {
			return fmt.Errorf("jetq %v kept failing: %s", args, errOut)
		}
		return nil
	})
}

func TestEnqueueRefusesUnknownTaskAndBadInput(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.serve()
	waitFor(t, func() bool {
		_, err := c.js.Consumer(context.Background(), "JETQ_TASKS", "default:email:send")
		return err == nil
	})
	for _, tc := range []struct {
		args     []string
		code     int
		mentions string
	}{
		{[]string{"enqueue", "emial.send", `{"to":"a@b"}`}, exitError, `unknown task "emial.send"`},
		{[]string{"enqueue", "Email.Send", `{}`}, exitUsage, "must be lower-case"},
		{[]string{"enqueue", "email.send", `{"to":`}, exitUsage, "not valid JSON"},
		{[]string{"enqueue", "email.send"}, exitUsage, "takes 2 argument(s)"},
		{[]string{"enqueue", "email.send", "{}", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{[]string{"nonsense"}, exitUsage, "unknown command"},
	} {
		code, _, errOut := c.jetq(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.mentions) {
			t.Errorf("jetq %v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errOut, tc.code, tc.mentions)
		}
	}
	code, out, errOut := c.jetq("enqueue", "email.send", `{"to":"ada@example.com"}`, "--id", "cli-1")
	if code != 0 || !strings.Contains(out, "email.send on queue default: enqueued (id cli-1") {
		t.Fatalf("enqueue: exit %d, out %q, err %q", code, out, errOut)
	}
	code, out, _ = c.jetq("enqueue", "email.send", `{"to":"ada@example.com"}`, "--id", "cli-1", "--json")
	var r producer.Result
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || !r.Duplicate || r.ID != "cli-1" ||
		!strings.Contains(out, `"duplicate": true`) || !strings.Contains(out, `"id": "cli-1"`) {
		t.Errorf("duplicate enqueue: exit %d, out %q", code, out)
	}
	if code, _, errOut := c.jetq("enqueue", "never.served", `{}`, "--force"); code != 0 {
		t.Errorf("--force: exit %d: %s", code, errOut)
	}
}

func TestQueuesShowsCounts(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	p, err := producer.New(c.js, producer.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Two bad emails dead-letter once a worker runs; three tasks of a type
	// nobody serves stay pending.
	orphan := tasks.Define[Email]("orphan.task")
	for range 3 {
		if _, err := producer.Enqueue(ctx, p, orphan, Email{To: "x@y"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, to := range []string{"a@bad", "b@bad", "c@good"} {
		if _, err := producer.Enqueue(ctx, p, sendEmail, Email{To: to}); err != nil {
			t.Fatal(err)
		}
	}
	c.serve()
	var rows []queueRow
	waitFor(t, func() bool {
		code, out, _ := c.jetq("queues", "--json")
		rows = nil
		if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 {
			return false
		}
		return rows[0].DeadLettered == 2 && rows[0].Pending == 0 && rows[0].InFlight == 0
	})
	want := []queueRow{
		{Task: "email.send", Queue: "default", Consumers: 1, DeadLettered: 2},
		{Task: "orphan.task", Queue: "default", Pending: 3},
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d: got %+v, want %+v", i, rows[i], want[i])
		}
	}
	code, out, _ := c.jetq("queues")
	if code != 0 || !strings.Contains(out, "DLQ") || !strings.Contains(out, "orphan.task") {
		t.Errorf("table: exit %d\n%s", code, out)
	}
}

func TestServerCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"server", "--listen", "127.0.0.1:0", "--store-dir", dir}, &out, &errb)
	}()
	waitFor(t, func() bool { return strings.Contains(out.String(), "jetq server ready: nats://127.0.0.1:") })
	url := strings.Fields(strings.TrimPrefix(out.String(), "jetq server ready: "))[0]
	c := &cli{t: t, url: url}
	if code, _, errOut := c.jetq("enqueue", "any.task", `{}`, "--force"); code != 0 {
		t.Errorf("enqueue against jetq server: exit %d: %s", code, errOut)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("server exit %d: %s", code, errb.String())
	}
	if code, _, errOut := (&cli{t: t, url: "nats://127.0.0.1:1"}).jetq("server"); code != exitUsage || !strings.Contains(errOut, "--store-dir") {
		t.Errorf("server without --store-dir: exit %d, %q", code, errOut)
	}
}

func TestDLQCommands(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.serve()
	code, _, errOut := c.jetq("dlq", "ls")
	if code != 0 {
		t.Fatalf("dlq ls on an empty stream: %d %s", code, errOut)
	}
	p, err := producer.New(c.js, producer.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	r, err := producer.Enqueue(context.Background(), p, sendEmail, Email{To: "ada@bad"})
	if err != nil {
		t.Fatal(err)
	}
	var entries []map[string]any
	waitFor(t, func() bool {
		_, out, _ := c.jetq("dlq", "ls", "--json")
		entries = nil
		return json.Unmarshal([]byte(out), &entries) == nil && len(entries) == 1
	})
	seq := strconv.Itoa(int(entries[0]["seq"].(float64)))
	if entries[0]["id"] != r.ID || entries[0]["reason"] != "permanent" {
		t.Errorf("dlq ls --json: %v", entries[0])
	}
	code, out, _ := c.jetq("dlq", "ls", "--task", "email.send", "--reason", "permanent", "--since", "1h")
	if code != 0 || !strings.Contains(out, "email.send") || !strings.Contains(out, "mailbox does not exist") || !strings.HasPrefix(out, "SEQ") {
		t.Errorf("dlq ls table: %d\n%s", code, out)
	}
	code, out, _ = c.jetq("dlq", "show", seq)
	if code != 0 || !strings.Contains(out, `"to": "ada@bad"`) || !strings.Contains(out, "reason      permanent") || !strings.Contains(out, "Jetq-Dlq-Reason: permanent") {
		t.Errorf("dlq show: %d\n%s", code, out)
	}
	code, out, _ = c.jetq("dlq", "stats", "--json")
	var st map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st["total"] != 1.0 {
		t.Errorf("dlq stats: %d %s", code, out)
	}

	// The cause is fixed; the replayed task succeeds and the record is gone.
	c.fixed.Store(true)
	code, out, errOut = c.jetq("dlq", "replay", seq)
	if code != 0 || out != "replayed 1 record(s)\n" {
		t.Fatalf("dlq replay: %d %q %s", code, out, errOut)
	}
	waitFor(t, func() bool {
		var rows []queueRow
		_, out, _ := c.jetq("queues", "--json")
		return json.Unmarshal([]byte(out), &rows) == nil && len(rows) == 1 && rows[0].DeadLettered == 0 && rows[0].Pending == 0 && rows[0].InFlight == 0
	})
	if _, out, _ := c.jetq("dlq", "ls", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("after the replay: %s", out)
	}

	for _, tc := range []struct {
		args     []string
		code     int
		mentions string
	}{
		{[]string{"dlq", "show", "0"}, exitUsage, "not a record sequence"},
		{[]string{"dlq", "show", "abc"}, exitError, `no such record of task "abc"`},
		{[]string{"dlq", "show", "999"}, exitError, "no such record"},
		{[]string{"dlq", "replay"}, exitUsage, "give record sequences"},
		{[]string{"dlq", "replay", "1", "--all"}, exitUsage, "not both"},
		{[]string{"dlq", "rm"}, exitUsage, "needs the sequences"},
		{[]string{"dlq", "purge"}, exitUsage, "--all"},
		{[]string{"dlq", "ls", "--reason", "exploded"}, exitUsage, "reason \"exploded\""},
		{[]string{"dlq", "ls", "--since", "yesterday"}, exitUsage, "neither a duration"},
		{[]string{"dlq", "ls", "--task", "Bad Name"}, exitUsage, "must be lower-case"},
	} {
		code, _, errOut := c.jetq(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.mentions) {
			t.Errorf("jetq %v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errOut, tc.code, tc.mentions)
		}
	}
	if code, out, _ := c.jetq("dlq", "purge", "--all", "--yes"); code != 0 || out != "removed 0 record(s)\n" {
		t.Errorf("purge --all: %d %q", code, out)
	}
}

// TestServerCluster runs three `jetq server` nodes as one cluster, in this
// process, and enqueues through it.
func TestServerCluster(t *testing.T) {
	t.Parallel()
	ports := make([]string, 3)
	routes := make([]string, 3)
	for i := range ports {
		ports[i] = freePort(t)
		routes[i] = "nats-route://127.0.0.1:" + ports[i]
	}
	var outs, errs [3]*syncBuffer
	t.Cleanup(func() {
		if t.Failed() {
			for i := range errs {
				t.Logf("node %d:\n%s", i, errs[i].String())
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 3)
	for i := range 3 {
		outs[i] = &syncBuffer{}
		args := []string{"server", "--listen", "127.0.0.1:0", "--store-dir", t.TempDir(), "--name", "n" + strconv.Itoa(i),
			"--cluster-name", "jetq", "--cluster-listen", "127.0.0.1:" + ports[i], "--routes", strings.Join(routes, ",")}
		errs[i] = &syncBuffer{}
		go func() { done <- run(ctx, args, outs[i], errs[i]) }()
	}
	var urls []string
	for i := range 3 {
		waitFor(t, func() bool { return strings.Contains(outs[i].String(), "jetq server ready: ") })
		urls = append(urls, strings.Fields(strings.TrimPrefix(outs[i].String(), "jetq server ready: "))[0])
	}
	c := &cli{t: t, url: strings.Join(urls, ",")}
	// The first enqueue may meet a cluster still electing its leader.
	c.waitForCmd("enqueue", "any.task", `{}`, "--force", "--timeout", "2s")
	cancel()
	for range 3 {
		if code := <-done; code != 0 {
			t.Errorf("node exit %d", code)
		}
	}
	if code, _, errOut := c.jetq("server", "--store-dir", t.TempDir(), "--cluster-name", "x", "--cluster-listen", "127.0.0.1:0", "--routes", "nats-route://127.0.0.1:1"); code != exitUsage || !strings.Contains(errOut, "--name") {
		t.Errorf("cluster node without --name: %d %s", code, errOut)
	}
	if code, _, errOut := c.jetq("server", "--store-dir", t.TempDir(), "--name", "n", "--cluster-name", "x", "--cluster-listen", "nowhere", "--routes", "nats-route://127.0.0.1:1"); code != exitUsage || !strings.Contains(errOut, "route listen address") {
		t.Errorf("bad --cluster-listen: %d %s", code, errOut)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func TestQueuesOnAnEmptyServer(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	code, out, errOut := c.jetq("queues")
	if code != 0 || !strings.Contains(out, "no tasks yet") {
		t.Errorf("queues: %d %q %q", code, out, errOut)
	}
	if code, out, _ := c.jetq("queues", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("queues --json: %d %q", code, out)
	}
}
