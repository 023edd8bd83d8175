package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// start is one handler start, as e2eworker -rate logs it.
type start struct {
	task, id, key string
	at            time.Time
	attempt       int
}

// readStarts reads the starts the e2eworker -rate processes logged.
func readStarts(t *testing.T, paths ...string) []start {
	t.Helper()
	var out []start
	for _, p := range paths {
		for _, line := range readLines(t, p) {
			f := strings.Fields(line)
			if len(f) != 5 {
				t.Fatalf("%s: malformed line %q", p, line)
			}
			at, err := unixNanos(f[3])
			if err != nil {
				t.Fatalf("%s: %q: %v", p, line, err)
			}
			attempt, err := strconv.Atoi(f[4])
			if err != nil {
				t.Fatalf("%s: %q: %v", p, line, err)
			}
			out = append(out, start{task: f[0], id: f[1], key: f[2], at: at, attempt: attempt})
		}
	}
	return out
}

// perSecond counts starts by the Unix second they fell in, and returns
// the most in one second.
func perSecond(ss []start) (most int, bins map[int64]int) {
	bins = map[int64]int{}
	for _, s := range ss {
		sec := s.at.Unix()
		bins[sec]++
		most = max(most, bins[sec])
	}
	return most, bins
}

// TestRateLimitsHoldAcrossWorkerProcesses is the rate-limit scenario: a
// nats-server process and three worker processes with a backlog of 20 s
// of a type limited to 50 starts a second, 20 s of 20 keys limited to 5 a
// second each, and a type without a limit beside them. Starts per second
// stay within the limits (+10 %, counted in whole Unix seconds, the
// windows the limits count in), every task runs, and each on its first
// attempt: waiting spent none. The unlimited type's throughput is logged.
func TestRateLimitsHoldAcrossWorkerProcesses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := flowBinary(t, dir) // e2eworker, run with -rate
	js, url := natsSingle(t, dir, natsServerBinary(t))
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const (
		typed, keys, perKey = 1000, 20, 100
		typeLimit, keyLimit = 50, 5
	)
	free := envCount(t, "JETQ_E2E_RATE_FREE", 30000, 1, "unlimited tasks")
	enqueue := func(def *tasks.Definition[e2etask.Payload], n int, opts ...producer.EnqueueOption) {
		t.Helper()
		for n > 0 {
			batch := min(n, 2000)
			if _, err := producer.EnqueueBatch(ctx, p, def, make([]e2etask.Payload, batch), opts...); err != nil {
				t.Fatal(err)
			}
			n -= batch
		}
	}
	enqueue(e2etask.RateTyped, typed)
	// Keys interleaved, as tenants' work comes.
	for range perKey {
		for k := range keys {
			if _, err := producer.Enqueue(ctx, p, e2etask.RateKeyed, e2etask.Payload{}, producer.WithKey(fmt.Sprintf("tenant-%02d", k))); err != nil {
				t.Fatal(err)
			}
		}
	}
	enqueue(e2etask.RateFree, free)

	var outs []string
	var workers []*proc
	for i := range 3 {
		name := fmt.Sprintf("worker-%d", i+1)
		out := filepath.Join(dir, name+".txt")
		outs = append(outs, out)
		workers = append(workers, startProc(t, dir, name, bin, "-rate", "-replicas", "1", "-concurrency", "16",
			"-servers", url, "-out", out, "-name", name))
	}
	want := typed + keys*perKey + free
	testkit.WaitFor(t, 3*time.Minute, func() error {
		n := 0
		for _, o := range outs {
			n += lineCount(t, o)
		}
		if n < want {
			return fmt.Errorf("%d of %d tasks started", n, want)
		}
		return nil
	})
	for _, w := range workers {
		w.signal(t, syscall.SIGTERM)
	}
	for _, w := range workers {
		<-w.done
	}

	byTask := map[string][]start{}
	seen := map[string]bool{}
	for _, s := range readStarts(t, outs...) {
		if seen[s.id] {
			t.Errorf("task %s (%s) started twice", s.id, s.task)
		}
		seen[s.id] = true
		if s.attempt != 1 {
			t.Errorf("task %s (%s) started as attempt %d, want 1: waiting spent an attempt", s.id, s.task, s.attempt)
		}
		byTask[s.task] = append(byTask[s.task], s)
	}
	span := func(ss []start) (first, last time.Time) {
		for i, s := range ss {
			if i == 0 || s.at.Before(first) {
				first = s.at
			}
			if s.at.After(last) {
				last = s.at
			}
		}
		return first, last
	}

	ts := byTask[e2etask.RateTyped.Name()]
	most, _ := perSecond(ts)
	first, last := span(ts)
	t.Logf("%s: %d tasks in %v, at most %d starts in one second (limit %d/s)", e2etask.RateTyped.Name(), len(ts), last.Sub(first).Round(time.Millisecond), most, typeLimit)
	if len(ts) != typed || most > typeLimit*11/10 {
		t.Errorf("%s: %d of %d tasks ran, at most %d a second; want all, at most %d a second", e2etask.RateTyped.Name(), len(ts), typed, most, typeLimit*11/10)
	}

	byKey := map[string][]start{}
	for _, s := range byTask[e2etask.RateKeyed.Name()] {
		byKey[s.key] = append(byKey[s.key], s)
	}
	var mosts []int
	for key, ss := range byKey {
		most, _ := perSecond(ss)
		mosts = append(mosts, most)
		if len(ss) != perKey || most > keyLimit*11/10 {
			t.Errorf("key %s: %d of %d tasks ran, at most %d a second; want all, at most %d a second", key, len(ss), perKey, most, keyLimit*11/10)
		}
	}
	ks := byTask[e2etask.RateKeyed.Name()]
	kFirst, kLast := span(ks)
	slices.Sort(mosts)
	t.Logf("%s: %d tasks of %d keys in %v, most starts of one key in one second: %v (limit %d/s)",
		e2etask.RateKeyed.Name(), len(ks), len(byKey), kLast.Sub(kFirst).Round(time.Millisecond), mosts, keyLimit)
	if len(byKey) != keys {
		t.Errorf("%d keys ran, want %d", len(byKey), keys)
	}

	fs := byTask[e2etask.RateFree.Name()]
	fFirst, fLast := span(fs)
	limitedEnd := last
	if kLast.After(limitedEnd) {
		limitedEnd = kLast
	}
	during := 0
	for _, s := range fs {
		if !s.at.After(limitedEnd) {
			during++
		}
	}
	t.Logf("%s (no limit, beside them): %d tasks in %v, %.0f/s; %d started while the limited types ran",
		e2etask.RateFree.Name(), len(fs), fLast.Sub(fFirst).Round(time.Millisecond), float64(len(fs))/fLast.Sub(fFirst).Seconds(), during)
	if len(fs) != free {
		t.Errorf("%s: %d of %d tasks ran", e2etask.RateFree.Name(), len(fs), free)
	}
}

// TestRateLimitNeedsServer212 runs a worker of a rate-limited type on
// nats-server 2.11, which has no counters: Run refuses at once, naming the
// server it needs, instead of running the type without its limit.
func TestRateLimitNeedsServer212(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	port := freePorts(t, 1)[0]
	startProc(t, dir, "nats-old", testkit.NATSServer(t, testkit.OldServerVersion),
		"-js", "-sd", filepath.Join(dir, "store"), "-a", "127.0.0.1", "-p", fmt.Sprint(port))
	var nc *nats.Conn
	testkit.WaitFor(t, 10*time.Second, func() (err error) {
		nc, err = nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port))
		return err
	})
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, def := range []*tasks.Definition[e2etask.Payload]{e2etask.RateTyped, e2etask.RateKeyed} {
		reg := tasks.NewRegistry()
		tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[e2etask.Payload]) error { return nil })
		w, err := consumer.New(js, reg, consumer.WithLogger(testkit.Logger(t)))
		if err != nil {
			t.Fatal(err)
		}
		err = w.Run(ctx)
		if !errors.Is(err, consumer.ErrUnsupported) || !strings.Contains(err.Error(), "nats-server 2.12") {
			t.Errorf("%s on %s: Run returned %v, want ErrUnsupported naming nats-server 2.12", def.Name(), nc.ConnectedServerVersion(), err)
		}
	}
}
