package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// SetupCommand is the command that installs what the tests need besides
// Go: the nats-server binaries of [NATSServer] and the chromium of
// [Chromium]. It is the README's test command.
const SetupCommand = "./test.sh"

// OldServerVersion is the oldest nats-server jetq runs on (priority groups,
// per-message and per-key TTLs: 2.11), older than scheduling (2.14).
// test.sh installs it as well; the two say the same version.
const OldServerVersion = "v2.11.9"

// ChromiumEnv names a chromium binary to use instead of Debian's.
const ChromiumEnv = "JETQ_CHROMIUM"

const natsServerModule = "github.com/nats-io/nats-server/v2"

var gopath = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "env", "GOPATH").Output()
	return strings.TrimSpace(string(out)), err
})

var serverVersion = sync.OnceValues(func() (string, error) {
	// The module's go.mod, not the test binary's build information: a
	// package that only runs server processes does not link the server.
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", natsServerModule).CombinedOutput()
	return strings.TrimSpace(string(out)), err
})

// ServerVersion is the version of nats-server this module depends on (its
// go.mod), the one embedded in-process and the one test.sh installs beside
// [OldServerVersion].
func ServerVersion(t testing.TB) string {
	t.Helper()
	v, err := serverVersion()
	if err != nil || v == "" {
		t.Fatalf("go list -m %s: %v: %s", natsServerModule, err, v)
	}
	return v
}

// NATSServer returns the path of the nats-server binary of version (such as
// "v2.15.2") that [SetupCommand] installs into
// $(go env GOPATH)/nats-server-<version>/. A missing one fails t with a
// message that names the command: the tests do not install it themselves,
// nor look for one on PATH.
func NATSServer(t testing.TB, version string) string {
	t.Helper()
	dir, err := gopath()
	if err != nil || dir == "" {
		t.Fatalf("go env GOPATH: %v", err)
	}
	bin := filepath.Join(dir, "nats-server-"+version, "nats-server")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("nats-server %s is not installed at %s: run %s at the repository's root, which installs it there (%v)",
			version, bin, SetupCommand, err)
	}
	return bin
}

// Chromium returns the path of the chromium the dashboard's browser tests
// drive: $JETQ_CHROMIUM when set, else Debian's chromium (on PATH or at
// /usr/bin/chromium). A missing one fails t with a message that names
// [SetupCommand], which installs it.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(ChromiumEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", ChromiumEnv, p, err)
		}
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const debian = "/usr/bin/chromium"
	if fi, err := os.Stat(debian); err == nil && fi.Mode()&0o111 != 0 {
		return debian
	}
	t.Fatalf("the dashboard's browser tests need chromium, and there is none on PATH or at %s: "+
		"run %s at the repository's root, which installs Debian's (apt-get install chromium), or set %s to a Chromium binary",
		debian, SetupCommand, ChromiumEnv)
	return ""
}
