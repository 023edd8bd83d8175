package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// natsServer starts a nats-server with JetStream on a free port, configured
// further by conf, and returns its client URL.
func natsServer(t *testing.T, conf func(*server.Options)) string {
	t.Helper()
	o := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
	if conf != nil {
		conf(o)
	}
	ns, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return ns.ClientURL()
}

func userPassServer(t *testing.T) string {
	return natsServer(t, func(o *server.Options) { o.Username, o.Password = "ada", "s3cret" })
}

// jetqEnv runs the command line with exactly the environment env, in which
// XDG_CONFIG_HOME is a fresh directory unless env sets it.
func jetqEnv(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	if _, ok := env["XDG_CONFIG_HOME"]; !ok {
		env["XDG_CONFIG_HOME"] = t.TempDir()
	}
	var out, errb syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := runEnv(ctx, args, func(k string) string { return env[k] }, &out, &errb)
	return code, out.String(), errb.String()
}

// writeContext writes a nats CLI context file below the config dir dir.
func writeContext(t *testing.T, dir, name string, fields map[string]any) {
	t.Helper()
	b, err := json.MarshalIndent(fields, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	cdir := filepath.Join(dir, "nats", "context")
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cdir, name+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestContextFile(t *testing.T) {
	t.Parallel()
	url := userPassServer(t)
	dir := t.TempDir()
	// As `nats context add dev --server ... --user ada --password s3cret` writes it.
	writeContext(t, dir, "dev", map[string]any{
		"description": "", "url": url, "token": "", "user": "ada", "password": "s3cret", "creds": "", "nkey": "",
		"cert": "", "key": "", "ca": "", "nsc": "", "jetstream_domain": "", "jetstream_api_prefix": "",
		"jetstream_event_prefix": "", "inbox_prefix": "", "user_jwt": "", "color_scheme": "", "tls_first": false,
	})
	writeContext(t, dir, "nsc", map[string]any{"url": url, "nsc": "nsc://op/acc/user"})
	env := func(kv ...string) map[string]string {
		m := map[string]string{"XDG_CONFIG_HOME": dir}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"--context", env(), []string{"--context", "dev", "queues"}},
		{"--context after the command", env(), []string{"queues", "--context=dev"}},
		{"NATS_CONTEXT", env("NATS_CONTEXT", "dev"), []string{"queues"}},
	} {
		code, out, errOut := jetqEnv(t, tc.env, tc.args...)
		if code != 0 || !strings.Contains(out, "no tasks yet") {
			t.Errorf("%s: exit %d, out %q, err %q", tc.name, code, out, errOut)
		}
	}

	// None selected: the default URL (where a developer's own server may run).
	if code, _, errOut := jetqEnv(t, env(), "queues", "--timeout", "1s"); code != 0 && !strings.Contains(errOut, nats.DefaultURL+" (from the default)") {
		t.Errorf("no context: exit %d, err %q", code, errOut)
	}
	// Selected with `nats context select dev`.
	if err := os.WriteFile(filepath.Join(dir, "nats", "context.txt"), []byte("dev\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := jetqEnv(t, env(), "queues"); code != 0 || !strings.Contains(out, "no tasks yet") {
		t.Errorf("selected context: exit %d, out %q, err %q", code, out, errOut)
	}

	// Flags and the environment override the context, setting by setting.
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		mentions string
	}{
		{"--password", env(), []string{"--context", "dev", "--password", "wrong", "queues"}, exitError, "Authorization Violation"},
		{"NATS_PASSWORD", env("NATS_PASSWORD", "wrong"), []string{"--context", "dev", "queues"}, exitError, "Authorization Violation"},
		{"--server", env(), []string{"--context", "dev", "--server", "nats://127.0.0.1:1", "queues"}, exitError, "nats://127.0.0.1:1 (from --server)"},
		{"NATS_URL", env("NATS_URL", "nats://127.0.0.1:1"), []string{"--context", "dev", "queues"}, exitError, "nats://127.0.0.1:1 (from NATS_URL)"},
		{"unknown context", env(), []string{"--context", "nope", "queues"}, exitUsage, `unknown context "nope"`},
		{"unknown NATS_CONTEXT", env("NATS_CONTEXT", "nope"), []string{"queues"}, exitUsage, `unknown context "nope"`},
		{"bad name", env(), []string{"--context", "../dev", "queues"}, exitUsage, "invalid context name"},
		{"nsc lookup", env(), []string{"--context", "nsc", "queues"}, exitError, "nsc lookups"},
	} {
		code, _, errOut := jetqEnv(t, tc.env, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.mentions) {
			t.Errorf("%s: exit %d, err %q; want exit %d mentioning %q", tc.name, code, errOut, tc.code, tc.mentions)
		}
	}
	// A context's URL is named when it fails.
	writeContext(t, dir, "down", map[string]any{"url": "nats://127.0.0.1:1"})
	if code, _, errOut := jetqEnv(t, env(), "--context", "down", "queues"); code != exitError || !strings.Contains(errOut, `nats://127.0.0.1:1 (from context "down")`) {
		t.Errorf("context down: exit %d, err %q", code, errOut)
	}
}

func TestEnvironmentAuth(t *testing.T) {
	t.Parallel()
	url := userPassServer(t)
	if code, out, errOut := jetqEnv(t, map[string]string{"NATS_URL": url, "NATS_USER": "ada", "NATS_PASSWORD": "s3cret"}, "queues"); code != 0 || !strings.Contains(out, "no tasks yet") {
		t.Errorf("NATS_USER and NATS_PASSWORD: exit %d, out %q, err %q", code, out, errOut)
	}
	if code, _, errOut := jetqEnv(t, map[string]string{"NATS_URL": url}, "queues"); code != exitError || !strings.Contains(errOut, "Authorization Violation") {
		t.Errorf("no credentials: exit %d, err %q", code, errOut)
	}
	// --user with NATS_PASSWORD: flags and environment combine.
	if code, _, errOut := jetqEnv(t, map[string]string{"NATS_PASSWORD": "s3cret"}, "--server", url, "--user", "ada", "queues"); code != 0 {
		t.Errorf("--user with NATS_PASSWORD: exit %d, err %q", code, errOut)
	}

	tokURL := natsServer(t, func(o *server.Options) { o.Authorization = "t0ken" })
	if code, _, errOut := jetqEnv(t, map[string]string{"NATS_URL": tokURL, "NATS_TOKEN": "t0ken"}, "queues"); code != 0 {
		t.Errorf("NATS_TOKEN: exit %d, err %q", code, errOut)
	}
}

func TestNKeySeedFile(t *testing.T) {
	t.Parallel()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	url := natsServer(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })
	if code, _, errOut := jetqEnv(t, map[string]string{}, "--server", url, "--nkey", seedFile, "queues"); code != 0 {
		t.Errorf("--nkey: exit %d, err %q", code, errOut)
	}
	if code, _, errOut := jetqEnv(t, map[string]string{"NATS_URL": url, "NATS_NKEY": seedFile}, "queues"); code != 0 {
		t.Errorf("NATS_NKEY: exit %d, err %q", code, errOut)
	}
	if code, _, errOut := jetqEnv(t, map[string]string{}, "--server", url, "--nkey", seedFile+".missing", "queues"); code != exitError || !strings.Contains(errOut, "nkey seed") {
		t.Errorf("missing seed file: exit %d, err %q", code, errOut)
	}
	if code, _, errOut := jetqEnv(t, map[string]string{}, "--server", url, "--nkey", seedFile, "--creds", seedFile, "queues"); code != exitUsage || !strings.Contains(errOut, "not both") {
		t.Errorf("--nkey with --creds: exit %d, err %q", code, errOut)
	}
}

func TestTLSFlagSpellings(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "ca.pem")
	for _, flag := range []string{"--tlsca", "--tls-ca"} {
		code, _, errOut := jetqEnv(t, map[string]string{}, "--server", "nats://127.0.0.1:1", flag, missing, "queues")
		if code != exitError || !strings.Contains(errOut, "ca.pem") {
			t.Errorf("%s: exit %d, err %q; want the CA file read", flag, code, errOut)
		}
	}
	for _, args := range [][]string{{"--tlscert", "c.pem"}, {"--tls-key", "k.pem"}} {
		code, _, errOut := jetqEnv(t, map[string]string{}, append(args, "queues")...)
		if code != exitUsage || !strings.Contains(errOut, "go together") {
			t.Errorf("%v: exit %d, err %q", args, code, errOut)
		}
	}
	// The old spellings work but are not advertised.
	_, out, _ := jetqEnv(t, map[string]string{}, "--help")
	if !strings.Contains(out, "--tlsca") || strings.Contains(out, "--tls-ca") || !strings.Contains(out, "--context") || !strings.Contains(out, "--nkey") {
		t.Errorf("help:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	url := natsServer(t, nil)
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, errOut := jetqEnv(t, map[string]string{}, append([]string{"--server", url}, args...)...)
		if code != 0 || !strings.HasPrefix(out, "jetq ") || !strings.Contains(out, "server "+server.VERSION+" at nats://127.0.0.1:") {
			t.Errorf("%v: exit %d, out %q, err %q", args, code, out, errOut)
		}
	}
	code, out, _ := jetqEnv(t, map[string]string{}, "--server", url, "--version", "--json")
	var v versionInfo
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Version == "" || v.Server != server.VERSION {
		t.Errorf("--version --json: exit %d, %q", code, out)
	}
	// No server: still the version of jetq, quickly, and exit 0.
	start := time.Now()
	code, out, errOut := jetqEnv(t, map[string]string{}, "--server", "nats://127.0.0.1:1", "--version")
	if code != 0 || !strings.HasPrefix(out, "jetq ") || !strings.Contains(out, "server: not reachable") || time.Since(start) > 5*time.Second {
		t.Errorf("--version without a server: exit %d, out %q, err %q", code, out, errOut)
	}
	if code, _, _ := jetqEnv(t, map[string]string{}, "--context", "nope", "--version"); code != 0 {
		t.Errorf("--version with a bad context: exit %d", code)
	}
}

func TestJSONErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args     []string
		code     int
		mentions string
	}{
		{[]string{"--json", "nonsense"}, exitUsage, "unknown command"},
		{[]string{"queues", "--bogus", "--json"}, exitUsage, "unknown flag: --bogus"},
		{[]string{"--json", "--server", "nats://127.0.0.1:1", "queues"}, exitError, "nats://127.0.0.1:1"},
	} {
		code, out, errOut := jetqEnv(t, map[string]string{}, tc.args...)
		var e struct {
			Error string `json:"error"`
			Code  int    `json:"code"`
		}
		if err := json.Unmarshal([]byte(errOut), &e); err != nil || code != tc.code || e.Code != tc.code || !strings.Contains(e.Error, tc.mentions) || out != "" {
			t.Errorf("jetq %v: exit %d, stdout %q, stderr %q; want exit %d and JSON mentioning %q", tc.args, code, out, errOut, tc.code, tc.mentions)
		}
	}
	// Without --json, plain text.
	if code, _, errOut := jetqEnv(t, map[string]string{}, "nonsense"); code != exitUsage || !strings.HasPrefix(errOut, "jetq: ") {
		t.Errorf("plain: %d %q", code, errOut)
	}
}

func TestConnectionFailureHint(t *testing.T) {
	t.Parallel()
	code, _, errOut := jetqEnv(t, map[string]string{}, "--server", "nats://ada:s3cret@127.0.0.1:1", "queues")
	for _, want := range []string{"nats://ada:xxxxx@127.0.0.1:1 (from --server)", "no servers available", "--server, NATS_URL or --context"} {
		if code != exitError || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, err %q; want it mentioning %q", code, errOut, want)
		}
	}
	if strings.Contains(errOut, "s3cret") {
		t.Errorf("the password is printed: %q", errOut)
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	for in, want := range map[string]time.Duration{
		"7d": 7 * day, "1d12h": day + 12*time.Hour, "2w": 14 * day, "1w2d3h4m": 9*day + 3*time.Hour + 4*time.Minute,
		"1.5d": 36 * time.Hour, "90m": 90 * time.Minute, "2h": 2 * time.Hour, "0": 0, "-1d": -day, "12h1d": day + 12*time.Hour,
		"500ms": 500 * time.Millisecond,
	} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "7", "7x", "yesterday", "1..5d", "-", "99999999999w", "2026-01-02T00:00:00Z"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
}

// TestSinceInDays runs `dlq ls --since` with days and weeks.
func TestSinceInDays(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	for _, since := range []string{"7d", "1d12h", "2w"} {
		if code, _, errOut := c.jetq("dlq", "ls", "--since", since); code != 0 {
			t.Errorf("--since %s: exit %d, err %q", since, code, errOut)
		}
	}
}
