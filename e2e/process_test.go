package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/internal/testkit"
)

// proc is a child process of a scenario, restartable with the same arguments.
type proc struct {
	name string
	path string
	args []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(t *testing.T, dir, name, path string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, path: path, args: args, log: filepath.Join(dir, name+".log")}
	p.start(t)
	t.Cleanup(func() {
		if p.running() {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			t.Logf("last lines of %s:\n%s", p.name, strings.Join(lines[max(0, len(lines)-15):], "\n"))
		}
	})
	return p
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(p.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(p.path, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	p.done = make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: signal %v: %v", p.name, sig, err)
	}
	if sig == syscall.SIGKILL {
		<-p.done
	}
}

// binaries builds the scenario programs and finds the nats-server of
// go.mod's version that test.sh installs.
func binaries(t *testing.T, dir string) (natsServer, worker, producer string) {
	t.Helper()
	build := func(out, pkg string) {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = ".."
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
	}
	worker, producer = filepath.Join(dir, "e2eworker"), filepath.Join(dir, "e2eproducer")
	build(worker, "./e2e/cmd/e2eworker")
	build(producer, "./e2e/cmd/e2eproducer")
	return natsServerBinary(t), worker, producer
}

// natsServerBinary finds the nats-server of go.mod's version that test.sh
// installs, and says which it is.
func natsServerBinary(t *testing.T) string {
	t.Helper()
	natsServer := testkit.NATSServer(t, testkit.ServerVersion(t))
	out, err := exec.Command(natsServer, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v", natsServer, err)
	}
	t.Logf("using %s: %s", natsServer, strings.TrimSpace(string(out)))
	return natsServer
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// natsCluster starts three nats-server processes forming one JetStream cluster.
func natsCluster(t *testing.T, dir, bin string) (servers []*proc, urls []string) {
	t.Helper()
	ports := freePorts(t, 6)
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3+i]))
	}
	for i := range 3 {
		name := fmt.Sprintf("n%d", i+1)
		conf := filepath.Join(dir, name+".conf")
		err := os.WriteFile(conf, []byte(fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
jetstream { store_dir: %q, max_memory_store: 256MB, max_file_store: 4GB }
cluster { name: e2e, listen: 127.0.0.1:%d, routes: [%s] }
`, name, ports[i], filepath.Join(dir, name), ports[3+i], strings.Join(routes, ", "))), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		servers = append(servers, startProc(t, dir, name, bin, "-c", conf))
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	return servers, urls
}

// waitClusterReady waits until an R3 stream can be created.
func waitClusterReady(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	testkit.WaitFor(t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe"}, Replicas: 3, Storage: jetstream.MemoryStorage})
		if err == nil {
			err = js.DeleteStream(ctx, "PROBE")
		}
		if err != nil {
			return fmt.Errorf("cluster not ready: %w", err)
		}
		return nil
	})
}

// streamLeader names the server leading stream.
func streamLeader(t *testing.T, js jetstream.JetStream, stream string) string {
	t.Helper()
	var leader string
	testkit.WaitFor(t, 30*time.Second, func() error {
		var err error
		leader, err = leaderOf(js, stream, 2*time.Second)
		return err
	})
	return leader
}

// leaderOf names the server leading stream, asking for at most timeout, or
// says why it cannot.
func leaderOf(js jetstream.JetStream, stream string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", fmt.Errorf("no leader for %s: %w", stream, err)
	}
	if c := s.CachedInfo().Cluster; c != nil && c.Leader != "" {
		return c.Leader, nil
	}
	return "", fmt.Errorf("no leader for %s", stream)
}

func lineCount(t *testing.T, path string) int { return len(readLines(t, path)) }

// TestProcessesSurviveKilledAndFrozenNodes is scenario 2: three real
// nats-server processes, a producer process and three worker processes. One
// worker is killed with SIGKILL mid-task, the stream leader's server is
// killed with SIGKILL and restarted, and then the new leader is frozen with
// SIGSTOP for longer than an election takes and resumed. At the end every
// enqueued task was handled or dead-lettered.
func TestProcessesSurviveKilledAndFrozenNodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	natsBin, workerBin, producerBin := binaries(t, dir)
	servers, urls := natsCluster(t, dir, natsBin)
	byName := map[string]*proc{}
	for _, s := range servers {
		byName[s.name] = s
	}
	all := strings.Join(urls, ",")
	nc, err := nats.Connect(all, e2etask.ConnectOptions("e2e-test")...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	waitClusterReady(t, js)

	var workers []*proc
	var outs []string
	for i := range 3 {
		out := filepath.Join(dir, fmt.Sprintf("handled-%d.txt", i+1))
		outs = append(outs, out)
		// Each worker starts on a different node; it fails over to the others.
		servers := strings.Join(append([]string{urls[i]}, urls...), ",")
		workers = append(workers, startProc(t, dir, fmt.Sprintf("worker-%d", i+1), workerBin,
			"-servers", servers, "-out", out, "-name", fmt.Sprintf("worker-%d", i+1)))
	}
	enqueuedFile := filepath.Join(dir, "enqueued.txt")
	const count, rate = 8000, 200
	prod := startProc(t, dir, "producer", producerBin, "-servers", all, "-out", enqueuedFile,
		"-count", fmt.Sprint(count), "-rate", fmt.Sprint(rate))

	type fault struct {
		what string
		at   time.Time
	}
	var faults []fault
	mark := func(what string) {
		faults = append(faults, fault{what, time.Now()})
		t.Logf("%s: %s", time.Now().Format("15:04:05.000"), what)
	}
	waitLines := func(path string, n int) {
		t.Helper()
		testkit.WaitFor(t, 60*time.Second, func() error {
			if got := lineCount(t, path); got < n {
				return fmt.Errorf("%s holds %d lines, want %d", path, got, n)
			}
			return nil
		})
	}

	// 1. A worker dies mid-task: it is busy, so it holds deliveries.
	waitLines(outs[0], 100)
	workers[0].signal(t, syscall.SIGKILL)
	mark("SIGKILL worker-1")

	// elected marks when the work stream has a leader other than old: how
	// soon jetq resumes after it is the recovery jetq itself adds.
	elected := func(old string) {
		t.Helper()
		var leader string
		err := testkit.Poll(30*time.Second, func() error {
			var err error
			if leader, err = leaderOf(js, "JETQ_TASKS", 500*time.Millisecond); err == nil && leader == old {
				err = fmt.Errorf("%s still leads", old)
			}
			return err
		})
		if err != nil {
			t.Logf("no new stream leader within 30 s of losing %s: %v", old, err)
			return
		}
		mark("new stream leader " + leader)
	}
	sleepUntil := func(at time.Time) { time.Sleep(time.Until(at)) }

	// 2. The work stream's leader dies, and comes back.
	time.Sleep(3 * time.Second) // let the fleet settle before the next fault
	leader := byName[streamLeader(t, js, "JETQ_TASKS")]
	leader.signal(t, syscall.SIGKILL)
	mark("SIGKILL " + leader.name + " (stream leader)")
	killed := time.Now()
	elected(leader.name)
	sleepUntil(killed.Add(4 * time.Second)) // the node stays down a while
	leader.start(t)
	mark("restart " + leader.name)

	// 3. The new leader freezes for longer than the election timeout.
	time.Sleep(4 * time.Second)
	frozen := byName[streamLeader(t, js, "JETQ_TASKS")]
	frozen.signal(t, syscall.SIGSTOP)
	mark("SIGSTOP " + frozen.name + " (stream leader)")
	stopped := time.Now()
	elected(frozen.name)
	sleepUntil(stopped.Add(12 * time.Second)) // raft elections time out within 4–9 s
	frozen.signal(t, syscall.SIGCONT)
	mark("SIGCONT " + frozen.name)

	select {
	case <-prod.done:
	case <-time.After(120 * time.Second):
		t.Fatal("producer did not finish")
	}
	if code := prod.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("producer exit code %d", code)
	}

	// Wait until every stored task is handled or dead-lettered.
	// The report below says what is missing if that does not happen.
	var a *accounting
	_ = testkit.Poll(90*time.Second, func() error {
		a = newAccounting()
		a.readEnqueued(t, enqueuedFile)
		for _, o := range outs {
			a.readHandled(t, o)
		}
		if missing := len(a.missing()); missing > 0 || len(a.enqueued) != count {
			return fmt.Errorf("%d of %d stored tasks not handled", missing, len(a.enqueued))
		}
		return nil
	})
	a.readDLQ(t, js)
	a.report(t)
	if len(a.enqueued) != count {
		t.Errorf("producer stored %d tasks, want %d", len(a.enqueued), count)
	}
	for i, f := range faults {
		until := f.at.Add(20 * time.Second)
		if i+1 < len(faults) {
			until = faults[i+1].at
		}
		t.Logf("after %-32s first completion in %v; longest time without completions until the next fault: %v",
			f.what, a.firstAfter(f.at).Round(time.Millisecond), a.longestGap(f.at, until).Round(time.Millisecond))
	}
}
