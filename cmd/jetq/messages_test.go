package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/producer"
)

// jetqIn is jetq with standard input in, a terminal or not.
func (c *cli) jetqIn(in input, args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append([]string{"--server", c.url}, args...)
	code := runIO(ctx, args, os.Getenv, in, &out, &errb)
	return code, out.String(), errb.String()
}

// deadLetter files one dead-letter record and returns its row of dlq ls --json.
func (c *cli) deadLetter(to string) map[string]any {
	c.t.Helper()
	p, err := producer.New(c.js, producer.WithLogger(quietLog()))
	if err != nil {
		c.t.Fatal(err)
	}
	r, err := producer.Enqueue(context.Background(), p, sendEmail, Email{To: to})
	if err != nil {
		c.t.Fatal(err)
	}
	var row map[string]any
	waitFor(c.t, func() bool {
		_, out, _ := c.jetq("dlq", "ls", "--json")
		var entries []map[string]any
		if json.Unmarshal([]byte(out), &entries) != nil {
			return false
		}
		for _, e := range entries {
			if e["id"] == r.ID {
				row = e
				return true
			}
		}
		return false
	})
	return row
}

func TestDLQMessagesAndDates(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.serve()
	c.deadLetter("ada@bad")

	// rm of a record that does not exist says so, as show does, and
	// counts nothing removed when nothing was.
	code, _, errOut := c.jetq("dlq", "rm", "999")
	if code != exitError || !strings.Contains(errOut, "no such record") || strings.Contains(errOut, "500") || strings.Contains(errOut, "before it") {
		t.Errorf("dlq rm 999: exit %d, stderr %q; want exit %d, no such record, no server error, no count", code, errOut, exitError)
	}
	code, _, errOut = c.jetq("dlq", "ls", "extra")
	if code != exitUsage || strings.Contains(errOut, "0 argument(s)") || !strings.Contains(errOut, `takes no arguments; got ["extra"]`) {
		t.Errorf("dlq ls extra: exit %d, stderr %q; want exit %d saying it takes no arguments", code, errOut, exitUsage)
	}

	// One time format: RFC 3339 in UTC, in tables as in show.
	rfc3339UTC := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	_, out, _ := c.jetq("dlq", "ls")
	if !rfc3339UTC.MatchString(out) || regexp.MustCompile(`\d \d\d:\d\d:\d\d`).MatchString(out) {
		t.Errorf("dlq ls: want FAILED AT as RFC 3339 UTC; got\n%s", out)
	}
	_, out, _ = c.jetq("dlq", "stats")
	if !rfc3339UTC.MatchString(out) {
		t.Errorf("dlq stats: want RFC 3339 UTC times; got\n%s", out)
	}
	_, out, _ = c.jetq("dlq", "show", "1")
	if !rfc3339UTC.MatchString(out) || regexp.MustCompile(`[+-]\d\d:\d\d\n`).MatchString(out) {
		t.Errorf("dlq show: want RFC 3339 UTC times; got\n%s", out)
	}
}

func TestDLQPurgeAsksFirst(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.serve()
	c.deadLetter("ada@bad")
	count := func() int {
		_, out, _ := c.jetq("dlq", "ls", "--json")
		var entries []map[string]any
		if err := json.Unmarshal([]byte(out), &entries); err != nil {
			t.Fatalf("dlq ls --json: %v: %s", err, out)
		}
		return len(entries)
	}

	// No terminal and no --yes: refused, naming the flag.
	code, out, errOut := c.jetqIn(input{r: strings.NewReader("y\n")}, "dlq", "purge", "--reason", "permanent")
	if code != exitUsage || !strings.Contains(errOut, "not a terminal") || !strings.Contains(errOut, "--yes") || out != "" {
		t.Errorf("purge without a terminal: exit %d, out %q, stderr %q; want exit %d naming --yes", code, out, errOut, exitUsage)
	}
	// A terminal answering no.
	code, _, errOut = c.jetqIn(input{r: strings.NewReader("n\n"), terminal: true}, "dlq", "purge", "--reason", "permanent")
	if code != exitError || !strings.Contains(errOut, "remove 1 dead-letter record(s) with --reason permanent for good? [y/N]") || !strings.Contains(errOut, "not confirmed") {
		t.Errorf("purge answered no: exit %d, stderr %q", code, errOut)
	}
	if n := count(); n != 1 {
		t.Fatalf("records after a refused purge: %d, want 1", n)
	}
	// A terminal answering yes.
	code, out, errOut = c.jetqIn(input{r: strings.NewReader("yes\n"), terminal: true}, "dlq", "purge", "--reason", "permanent")
	if code != 0 || out != "removed 1 record(s)\n" {
		t.Errorf("purge answered yes: exit %d, out %q, stderr %q", code, out, errOut)
	}
	// --yes asks nothing.
	c.deadLetter("grace@bad")
	code, out, errOut = c.jetqIn(input{}, "dlq", "purge", "--all", "--yes")
	if code != 0 || out != "removed 1 record(s)\n" || errOut != "" {
		t.Errorf("purge --all --yes: exit %d, out %q, stderr %q", code, out, errOut)
	}
}

func TestHTTPURLIsExplained(t *testing.T) {
	t.Parallel()
	web := httptest.NewServer(http.NotFoundHandler())
	defer web.Close()
	var out, errb syncBuffer
	code := runIO(t.Context(), []string{"--server", web.URL, "queues"}, func(string) string { return "" }, input{}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "is an HTTP URL, but jetq speaks the NATS protocol") || strings.HasSuffix(strings.TrimSpace(errb.String()), "EOF") {
		t.Errorf("--server %s: exit %d, stderr %q; want exit %d explaining the HTTP URL", web.URL, code, errb.String(), exitUsage)
	}
}

func TestServerFlagConflictNamesTheFlags(t *testing.T) {
	t.Parallel()
	var out, errb syncBuffer
	args := []string{"server", "--listen", "127.0.0.1:0", "--store-dir", filepath.Join(t.TempDir(), "s"),
		"--auth-token", "secret", "--auth-user", "app", "--auth-password", "pw"}
	code := run(t.Context(), args, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "--auth-token") || strings.Contains(errb.String(), "WithToken") {
		t.Errorf("jetq %v: exit %d, stderr %q; want exit %d naming --auth-token, not WithToken", args, code, errb.String(), exitUsage)
	}
}

func TestVersionFromVCSStamp(t *testing.T) {
	t.Parallel()
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "ce6168a81b8491759a8910f0c1583eb249079c17"
	for _, tc := range []struct {
		name     string
		version  string
		settings []debug.BuildSetting
		want     string
	}{
		{"release", "v1.2.3", nil, "v1.2.3"},
		{"pseudo-version from the go command", "v0.0.0-20261202151338-ce6168a81b84", settings("vcs.revision", rev), "v0.0.0-20261202151338-ce6168a81b84"},
		{"devel with a stamp", "(devel)", settings("vcs.revision", rev, "vcs.time", "2026-12-02T15:13:38Z", "vcs.modified", "false"), "v0.0.0-20261202151338-ce6168a81b84"},
		{"devel with a modified tree", "(devel)", settings("vcs.revision", rev, "vcs.time", "2026-12-02T15:13:38Z", "vcs.modified", "true"), "v0.0.0-20261202151338-ce6168a81b84+dirty"},
		{"devel without a stamp", "(devel)", nil, "(devel)"},
	} {
		bi := &debug.BuildInfo{GoVersion: "go1.26", Main: debug.Module{Path: "github.com/jetq/jetq", Version: tc.version}, Settings: tc.settings}
		if got := versionOf(bi).Version; got != tc.want {
			t.Errorf("%s: version %q, want %q", tc.name, got, tc.want)
		}
	}
}

// startServer runs jetq server with args until the test ends, and returns
// its ready line.
func startServer(t *testing.T, args ...string) (ready string, stop func() string) {
	t.Helper()
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"server"}, args...), &out, &errb) }()
	waitFor(t, func() bool { return strings.Contains(out.String(), "jetq server ready: ") })
	stop = func() string {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("jetq server %v: exit %d: %s", args, code, errb.String())
		}
		return errb.String()
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			stop()
		}
	})
	for line := range strings.Lines(out.String()) {
		if strings.HasPrefix(line, "jetq server ready: ") {
			return strings.TrimSpace(line), stop
		}
	}
	return "", stop
}

func TestServerKeepsItsNameAndRefusesATakenPort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	nameOf := regexp.MustCompile(`server name (\S+)\)$`)
	first, stop := startServer(t, "--listen", "127.0.0.1:0", "--store-dir", dir)
	stop()
	second, stop := startServer(t, "--listen", "127.0.0.1:0", "--store-dir", dir)
	m1, m2 := nameOf.FindStringSubmatch(first), nameOf.FindStringSubmatch(second)
	if m1 == nil || m2 == nil || m1[1] != m2[1] {
		t.Errorf("two starts on one store dir: %q and %q; want one server name", first, second)
	}

	// A second server on the first one's port fails before it is ready,
	// naming the port.
	port := strings.Fields(strings.TrimPrefix(second, "jetq server ready: "))[0]
	port = port[strings.LastIndex(port, ":")+1:]
	var out, errb syncBuffer
	code := run(t.Context(), []string{"server", "--listen", "127.0.0.1:" + port, "--store-dir", t.TempDir()}, &out, &errb)
	if code != exitError || !strings.Contains(errb.String(), "client port "+port) || strings.Contains(errb.String(), "Server is ready") || strings.Contains(out.String(), "ready") {
		t.Errorf("jetq server on a taken port %s: exit %d, out %q, stderr %q; want exit %d naming the port, never ready", port, code, out.String(), errb.String(), exitError)
	}
	stop()
}
