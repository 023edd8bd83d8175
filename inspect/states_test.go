package inspect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// stArgs is the payload of the tasks of these tests.
type stArgs struct {
	N int `json:"n"`
}

// stateSetup is a server with a producer and an inspector.
type stateSetup struct {
	srv *embedded.Server
	js  jetstream.JetStream
	p   *producer.Producer
	in  *Inspector
}

func newStateSetup(t *testing.T) stateSetup {
	t.Helper()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	in, err := New(js, WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	return stateSetup{srv: srv, js: js, p: jetqtest.NewProducer(t, js), in: in}
}

// worker runs a worker of reg, writing its presence every 100 ms, on its
// own connection until the test ends.
func (s stateSetup) worker(t *testing.T, reg *tasks.Registry, opts ...consumer.Option) {
	t.Helper()
	jetqtest.StartWorker(t, s.srv, reg, append([]consumer.Option{consumer.WithPresenceInterval(100 * time.Millisecond)}, opts...)...)
}

// list reads one page of q.
func list(ctx context.Context, in *Inspector, q Query) (Page, error) { return in.Tasks(ctx, q) }

// ids are the IDs of a page's tasks, in its order.
func ids(p Page) []string {
	out := make([]string, len(p.Tasks))
	for i, t := range p.Tasks {
		out[i] = t.ID
	}
	return out
}

// runs counts a handler's runs by task ID and attempt.
type runs struct {
	mu sync.Mutex
	n  map[string][]int
}

func (r *runs) add(id string, attempt int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string][]int{}
	}
	r.n[id] = append(r.n[id], attempt)
}

func (r *runs) of(id string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.n[id])
}

// TestStateLists puts tasks in every state at once — two running (one
// reporting progress), two waiting out a retry (one of a tracked type, one
// not), two done, one dead-lettered, one pending with no worker — and
// checks that each list shows its own and nothing of the others.
func TestStateLists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStateSetup(t)
	slow := tasks.Define[stArgs]("st.slow", tasks.WithStateTracking())
	flaky := tasks.Define[stArgs]("st.flaky", tasks.WithStateTracking())
	plain := tasks.Define[stArgs]("st.plain")
	ok := tasks.Define[stArgs]("st.ok", tasks.WithStateTracking())
	bad := tasks.Define[stArgs]("st.bad")
	idle := tasks.Define[stArgs]("st.idle")
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, slow, func(ctx context.Context, tk *tasks.Task[stArgs]) error {
		if tk.Payload.N == 1 {
			if err := tasks.ReportProgress(ctx, 50, "halfway"); err != nil {
				return err
			}
		}
		<-release
		return nil
	})
	tasks.MustHandle(reg, flaky, func(ctx context.Context, tk *tasks.Task[stArgs]) error {
		return tasks.RetryAfter(time.Hour, errors.New("flaky: upstream said no\nsecond line"))
	})
	tasks.MustHandle(reg, plain, func(ctx context.Context, tk *tasks.Task[stArgs]) error {
		return tasks.RetryAfter(time.Hour, errors.New("plain: try later\nsecond line"))
	})
	tasks.MustHandle(reg, ok, func(ctx context.Context, tk *tasks.Task[stArgs]) error { return nil })
	tasks.MustHandle(reg, bad, func(ctx context.Context, tk *tasks.Task[stArgs]) error {
		return tasks.Permanent(errors.New("bad: cannot ever work"))
	})
	enqueue := func(def *tasks.Definition[stArgs], v int, id string) {
		t.Helper()
		if _, err := producer.Enqueue(ctx, s.p, def, stArgs{N: v}, producer.WithID(id)); err != nil {
			t.Fatal(err)
		}
	}
	enqueue(idle, 0, "idle-1")
	enqueue(ok, 0, "ok-1")
	s.worker(t, reg, consumer.WithConcurrency(4))
	t.Cleanup(func() { close(release) }) // before the worker's stop
	// ok-1 is done before ok-2 is enqueued, so that "newest first" has one
	// answer however the worker orders its slots.
	testkit.WaitFor(t, 30*time.Second, func() error {
		if st, err := s.in.Status(ctx, "ok-1"); err != nil || st.State != status.Done {
			return fmt.Errorf("ok-1: %+v, %v", st, err)
		}
		return nil
	})
	enqueue(slow, 1, "slow-1")
	enqueue(slow, 2, "slow-2")
	enqueue(flaky, 0, "flaky-1")
	enqueue(plain, 0, "plain-1")
	enqueue(bad, 0, "bad-1")
	enqueue(ok, 0, "ok-2")

	before := time.Now()
	want := map[State][]string{
		Running:   {"slow-1", "slow-2"},
		Retrying:  {"flaky-1", "plain-1"},
		Completed: {"ok-2", "ok-1"}, // newest first
		Failed:    {"bad-1"},
	}
	pages := map[State]Page{}
	testkit.WaitFor(t, 15*time.Second, func() error {
		for st, w := range want {
			p, err := list(ctx, s.in, Query{State: st})
			if err != nil {
				return err
			}
			if got := ids(p); !slices.Equal(got, w) {
				return fmt.Errorf("%s: got %v, want %v", st, got, w)
			}
			if st == Running && p.Tasks[0].Progress == nil {
				return errors.New("running: slow-1's progress not read yet")
			}
			for _, tk := range p.Tasks {
				if st == Running && tk.StartedAt.IsZero() {
					return fmt.Errorf("running: %s is listed before its handler started (in the worker's prefetch)", tk.ID)
				}
			}
			pages[st] = p
		}
		// A retry's error reaches the list with the worker's next
		// presence write, which may come after the server counts the
		// task as waiting for its retry.
		if p := pages[Retrying]; p.Tasks[1].LastError == "" {
			return errors.New("retrying: plain-1's last error not listed yet")
		}
		return nil
	})

	for _, tk := range pages[Running].Tasks {
		if tk.State != Running || tk.Worker == "" || tk.Attempt != 1 || tk.StartedAt.IsZero() || tk.Task != "st.slow" || tk.Seq == 0 || len(tk.Payload) == 0 {
			t.Errorf("running task: %+v", tk)
		}
	}
	if pr := pages[Running].Tasks[0].Progress; pr.Percent != 50 || pr.Note != "halfway" {
		t.Errorf("slow-1's progress: got %+v, want 50%% halfway", pr)
	}
	for _, tk := range pages[Retrying].Tasks {
		if tk.State != Retrying || tk.Attempt != 1 || tk.NextAttemptAt.Before(before.Add(50*time.Minute)) || tk.Worker != "" {
			t.Errorf("retrying task: %+v", tk)
		}
	}
	// The tracked type's record has the whole error; the other's worker
	// lists its first line.
	if got, want := pages[Retrying].Tasks[0].LastError, "retry after 1h0m0s: flaky: upstream said no\nsecond line"; got != want {
		t.Errorf("flaky-1's last error: got %q, want %q", got, want)
	}
	if got, want := pages[Retrying].Tasks[1].LastError, "retry after 1h0m0s: plain: try later"; got != want {
		t.Errorf("plain-1's last error: got %q, want %q", got, want)
	}
	for _, tk := range pages[Completed].Tasks {
		if tk.State != Completed || tk.Task != "st.ok" || tk.FinishedAt.IsZero() || tk.Attempt != 1 {
			t.Errorf("completed task: %+v", tk)
		}
	}
	if n := pages[Completed].Note; !strings.Contains(n, "status records") {
		t.Errorf("completed note %q does not say how far it read", n)
	}
	if tk := pages[Failed].Tasks[0]; tk.Reason != tasks.ReasonPermanent || !strings.Contains(tk.Error, "cannot ever work") || tk.FinishedAt.IsZero() {
		t.Errorf("failed task: %+v", tk)
	}

	// Filters: a queue or type keeps its own.
	p, err := list(ctx, s.in, Query{State: Retrying, Task: "st.plain"})
	if err != nil || !slices.Equal(ids(p), []string{"plain-1"}) {
		t.Errorf("retrying st.plain: got %v %v, want [plain-1]", ids(p), err)
	}
	p, err = list(ctx, s.in, Query{State: Running, Where: &Match{Path: "n", Value: "2"}})
	if err != nil || !slices.Equal(ids(p), []string{"slow-2"}) {
		t.Errorf("running with payload 2: got %v %v, want [slow-2]", ids(p), err)
	}
	p, err = list(ctx, s.in, Query{State: Completed, Limit: 1})
	if err != nil || !slices.Equal(ids(p), []string{"ok-2"}) {
		t.Errorf("completed, a page of 1: got %v %v, want [ok-2]", ids(p), err)
	}
}

// TestRunningCountsUnlistedDeliveries reads a presence entry as workers of
// the previous release write it, with counts and no list of deliveries:
// the running list cannot show those tasks, and says how many it leaves
// out, and of which type.
func TestRunningCountsUnlistedDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStateSetup(t)
	kv, err := s.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: s.in.names.WorkersBucket(), LimitMarkerTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	old := `{"id":"old","host":"h","pid":1,"started":"` + now + `","updated":"` + now + `","every":2000000000,"concurrency":4,` +
		`"tasks":[{"queue":"default","task":"st.old","held":3,"running":2},{"queue":"default","task":"st.other","held":0,"running":0}]}`
	if _, err := kv.Put(ctx, "old", []byte(old)); err != nil {
		t.Fatal(err)
	}
	p, err := list(ctx, s.in, Query{State: Running})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tasks) != 0 || !strings.Contains(p.Note, "3 running task(s) not listed") || !strings.Contains(p.Note, "default/st.old: 3") {
		t.Errorf("running list with an old worker's entry: tasks %v, note %q; want none, and the 3 of st.old counted", ids(p), p.Note)
	}
	if p, err = list(ctx, s.in, Query{State: Running, Task: "st.other"}); err != nil || p.Note != "" {
		t.Errorf("running st.other: note %q (%v), want none", p.Note, err)
	}
}
