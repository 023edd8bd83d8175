package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/topology"
)

// flowBinary builds the worker process into dir; run it with -flow (or
// -cancel, for the cancel scenario).
func flowBinary(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "e2eworker")
	cmd := exec.Command("go", "build", "-o", out, "./e2e/cmd/e2eworker")
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build e2eworker: %v\n%s", err, b)
	}
	return out
}

// memberRun is one run of a chord member's handler, as e2eworker -flow logs it.
type memberRun struct {
	chord, index int
	id           string
	attempt      int
	worker       string
	start, end   time.Time
	ok           bool
}

// callbackRun is one run of a chord's callback: its start, and its end
// when the handler got that far.
type callbackRun struct {
	chord   int
	id      string
	attempt int
	worker  string
	start   time.Time
	// enqueued is when the callback's task was enqueued (Task.EnqueuedAt).
	enqueued time.Time
	end      time.Time // zero when the run did not finish
	verdict  string    // "ok" or "bad:<why>"
	values   string
}

// flowLog is what the e2eworker -flow processes logged.
type flowLog struct {
	members   []memberRun
	callbacks map[int][]*callbackRun // by chord, in the order logged
	echoes    map[string]time.Time   // echo task ID → its handler's end
}

func unixNanos(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	return time.Unix(0, n), err
}

// readFlowLogs parses the files the e2eworker -flow processes appended to.
func readFlowLogs(t *testing.T, paths ...string) *flowLog {
	t.Helper()
	l := &flowLog{callbacks: map[int][]*callbackRun{}, echoes: map[string]time.Time{}}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(b), "\n") {
			if line == "" {
				continue
			}
			if err := l.parse(strings.Fields(line)); err != nil {
				// A SIGKILL can cut the last line of a file short.
				t.Logf("%s:%d: %v: %q", filepath.Base(path), n+1, err, line)
			}
		}
	}
	return l
}

func (l *flowLog) parse(f []string) error {
	bad := fmt.Errorf("a line of %d fields", len(f))
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			bad = err
			return -1
		}
		return n
	}
	at := func(s string) time.Time {
		ts, err := unixNanos(s)
		if err != nil {
			bad = err
		}
		return ts
	}
	switch {
	case len(f) == 9 && f[0] == "member":
		r := memberRun{chord: num(f[1]), index: num(f[2]), id: f[3], attempt: num(f[4]), worker: f[5],
			start: at(f[6]), end: at(f[7]), ok: f[8] == "ok"}
		if r.chord < 0 || r.index < 0 || r.attempt < 0 || r.start.IsZero() {
			return bad
		}
		l.members = append(l.members, r)
	case len(f) == 7 && f[0] == "cstart":
		r := &callbackRun{chord: num(f[1]), id: f[2], attempt: num(f[3]), worker: f[4], start: at(f[5]), enqueued: at(f[6])}
		if r.chord < 0 || r.attempt < 0 {
			return bad
		}
		l.callbacks[r.chord] = append(l.callbacks[r.chord], r)
	case len(f) == 8 && f[0] == "cend":
		chord, attempt, end := num(f[1]), num(f[3]), at(f[5])
		if chord < 0 || attempt < 0 {
			return bad
		}
		// The end belongs to the latest unfinished start of that delivery.
		runs := l.callbacks[chord]
		for i := len(runs) - 1; i >= 0; i-- {
			if r := runs[i]; r.id == f[2] && r.attempt == attempt && r.worker == f[4] && r.end.IsZero() {
				r.end, r.verdict, r.values = end, f[6], f[7]
				return nil
			}
		}
		return fmt.Errorf("an end with no start")
	case len(f) == 3 && f[0] == "echo":
		end := at(f[2])
		if end.IsZero() {
			return bad
		}
		if _, seen := l.echoes[f[1]]; !seen {
			l.echoes[f[1]] = end
		}
	default:
		return bad
	}
	return nil
}

// finished returns the callback runs of chord that got to their end.
func (l *flowLog) finished(chord int) []*callbackRun {
	var out []*callbackRun
	for _, r := range l.callbacks[chord] {
		if !r.end.IsZero() {
			out = append(out, r)
		}
	}
	return out
}

// spread returns the p50, p99 and max of ds, which it sorts.
func spread(ds []time.Duration) (p50, p99, mx time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2], ds[min(len(ds)-1, len(ds)*99/100)], ds[len(ds)-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// natsSingle starts one nats-server process with JetStream and returns a
// JetStream client connected to it, and its URL.
func natsSingle(t *testing.T, dir, bin string) (jetstream.JetStream, string) {
	t.Helper()
	port := freePorts(t, 1)[0]
	conf := filepath.Join(dir, "single.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf("server_name: single\nlisten: 127.0.0.1:%d\njetstream { store_dir: %q }\n",
		port, filepath.Join(dir, "single"))), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	startProc(t, dir, "nats-server", bin, "-c", conf)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	js := connectJS(t, url, "e2e-test")
	testkit.WaitFor(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err
	})
	return js, url
}

// connectJS connects to servers (comma separated, tried in order) as a
// client that rides out faults, until the test ends; more options follow
// e2etask.ConnectOptions.
func connectJS(t *testing.T, servers, name string, more ...nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(servers, append(e2etask.ConnectOptions(name), more...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// envCount reads the size of a scenario from the environment variable
// name: def when it is unset, and at least least.
func envCount(t *testing.T, name string, def, least int, what string) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < least {
		t.Fatalf("%s=%q: want a number of %s of at least %d", name, s, what, least)
	}
	return n
}

// runForwarder runs a dead-letter forwarder on js until the test ends.
func runForwarder(t *testing.T, js jetstream.JetStream, opts ...dlq.Option) {
	t.Helper()
	f, err := dlq.NewForwarder(js, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("forwarder: %v", err)
		}
	})
}

// flowClients provisions topo's streams and returns a producer and an
// inspector on js.
func flowClients(t *testing.T, js jetstream.JetStream, topo topology.Topology) (*producer.Producer, *inspect.Inspector) {
	t.Helper()
	p, err := producer.New(js, producer.WithTopology(topo), producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Provision(context.Background()); err != nil {
		t.Fatal(err)
	}
	in, err := inspect.New(js, inspect.WithTopology(topo))
	if err != nil {
		t.Fatal(err)
	}
	return p, in
}
