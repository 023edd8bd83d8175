package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

var trackedEmail = tasks.Define[Email]("email.tracked", tasks.WithStateTracking(), tasks.WithMaxAttempts(1))

// shown is `task show --json` as a test reads it.
type shown struct {
	ID     string `json:"id"`
	Status *struct {
		State string `json:"state"`
	} `json:"status"`
	DeadLetters []struct {
		Seq     uint64              `json:"seq"`
		Payload json.RawMessage     `json:"payload"`
		Header  map[string][]string `json:"header"`
	} `json:"dead_letters"`
	Work *struct {
		State   string          `json:"state"`
		Seq     uint64          `json:"seq"`
		Payload json.RawMessage `json:"payload"`
	} `json:"work"`
	Scheduled *struct {
		RunAt time.Time `json:"run_at"`
	} `json:"scheduled"`
}

func (c *cli) show(id string) (shown, int) {
	c.t.Helper()
	code, out, _ := c.jetq("task", "show", id, "--json")
	var v shown
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		c.t.Fatalf("task show %s --json: %v\n%s", id, err, out)
	}
	return v, code
}

// runWorker runs a worker of reg until the test ends or it is stopped; a
// handler still running then has its ctx cancelled at the end of the
// shutdown timeout.
func (c *cli) runWorker(reg *tasks.Registry, opts ...consumer.Option) *jetqtest.Worker {
	c.t.Helper()
	return jetqtest.StartWorkerOn(c.t, c.js, reg, append([]consumer.Option{consumer.WithLogger(quietLog())}, opts...)...)
}

func (v shown) state() string {
	if v.Status == nil {
		return ""
	}
	return v.Status.State
}

func TestTaskShow(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	ctx := context.Background()
	p, err := producer.New(c.js, producer.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	enqueue := func(id, to string, opts ...producer.EnqueueOption) {
		t.Helper()
		if _, err := producer.Enqueue(ctx, p, trackedEmail, Email{To: to}, append(opts, producer.WithID(id))...); err != nil {
			t.Fatal(err)
		}
	}

	// Nothing anywhere: an error, and no stream or bucket is created.
	if code, _, errOut := c.jetq("task", "show", "nobody"); code != exitError || !strings.Contains(errOut, `task "nobody": nothing found`) {
		t.Errorf("unknown task: %d %q", code, errOut)
	}

	// Queued: no worker yet.
	enqueue("queued-1", "q@example.com")
	v, code := c.show("queued-1")
	if code != 0 || v.state() != "queued" || v.Work == nil || v.Work.State != "queued" || compact(v.Work.Payload) != `{"to":"q@example.com"}` || len(v.DeadLetters) != 0 {
		t.Errorf("queued task: %d %+v", code, v)
	}
	// Scheduled: a delayed task.
	enqueue("later-1", "l@example.com", producer.WithDelay(time.Hour))
	if v, code := c.show("later-1"); code != 0 || v.Scheduled == nil || time.Until(v.Scheduled.RunAt) < 50*time.Minute || v.Work != nil {
		t.Errorf("scheduled task: %d %+v", code, v)
	}

	// A worker: "block" waits until released, "@bad" fails until fixed.
	release := make(chan struct{})
	var fixed atomic.Bool
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, trackedEmail, func(ctx context.Context, tk *tasks.Task[Email]) error {
		switch {
		case tk.Payload.To == "block":
			select {
			case <-release:
			case <-ctx.Done():
			}
		case strings.HasSuffix(tk.Payload.To, "@bad") && !fixed.Load():
			return tasks.Permanent(errContent("mailbox does not exist"))
		}
		return nil
	})
	c.runWorker(reg)

	// Done.
	waitFor(t, func() bool { v, _ := c.show("queued-1"); return v.state() == "done" && v.Work == nil })

	// Running: its handler is blocked.
	enqueue("running-1", "block")
	waitFor(t, func() bool {
		v, _ := c.show("running-1")
		return v.state() == "running" && v.Work != nil && v.Work.State == "running"
	})
	code, out, _ := c.jetq("task", "show", "running-1")
	if code != 0 || !strings.Contains(out, "state       running") || !strings.Contains(out, "running        JETQ_TASKS seq") || !strings.Contains(out, `"to": "block"`) {
		t.Errorf("task show running-1: %d\n%s", code, out)
	}
	close(release)
	waitFor(t, func() bool { v, _ := c.show("running-1"); return v.state() == "done" })

	// Dead-lettered, its payload shown as JSON.
	enqueue("bad-1", "x@bad")
	waitFor(t, func() bool { v, _ := c.show("bad-1"); return v.state() == "dead_lettered" && len(v.DeadLetters) == 1 })
	v, _ = c.show("bad-1")
	first := v.DeadLetters[0].Seq
	if compact(v.DeadLetters[0].Payload) != `{"to":"x@bad"}` || v.Work != nil {
		t.Errorf("dead-lettered task: %+v (payload %s)", v, v.DeadLetters[0].Payload)
	}
	code, out, _ = c.jetq("task", "show", "bad-1")
	if code != 0 || !strings.Contains(out, "state       dead_lettered") || !strings.Contains(out, "reason      permanent") || !strings.Contains(out, "not queued or running") {
		t.Errorf("task show bad-1: %d\n%s", code, out)
	}

	// Replayed, it fails again: the new record names the old one.
	in, err := inspect.New(c.js)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.ReplayDeadLetter(ctx, first); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		v, _ := c.show("bad-1")
		return v.state() == "dead_lettered" && len(v.DeadLetters) == 1 && v.DeadLetters[0].Seq != first
	})
	v, _ = c.show("bad-1")
	if of := v.DeadLetters[0].Header[wire.HeaderReplayOf]; len(of) != 1 || of[0] != "JETQ_DLQ:"+strconv.FormatUint(first, 10) {
		t.Errorf("the second record's %s: %v", wire.HeaderReplayOf, of)
	}

	// A second record of the same task ID (filed again by hand): dlq show
	// lists both, rm refuses, replay takes the newest.
	second := v.DeadLetters[0].Seq
	third := fileAgain(t, c, "bad-1")
	code, out, _ = c.jetq("dlq", "show", "bad-1", "--json")
	var es []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &es) != nil || len(es) != 2 || es[0]["payload"].(map[string]any)["to"] != "x@bad" {
		t.Fatalf("dlq show bad-1 --json: %d %s", code, out)
	}
	if code, out, _ := c.jetq("dlq", "show", "bad-1"); code != 0 || !strings.Contains(out, "has 2 dead-letter records") {
		t.Errorf("dlq show bad-1: %d\n%s", code, out)
	}
	if v, _ := c.show("bad-1"); len(v.DeadLetters) != 2 {
		t.Errorf("task show with two records: %+v", v)
	}
	if code, _, errOut := c.jetq("dlq", "rm", "bad-1"); code != exitUsage || !strings.Contains(errOut, "has 2 dead-letter records") {
		t.Errorf("dlq rm of an ambiguous ID: %d %q", code, errOut)
	}
	fixed.Store(true)
	code, out, errOut := c.jetq("dlq", "replay", "bad-1")
	if code != 0 || out != "replayed 1 record(s)\n" || !strings.Contains(errOut, "took the newest, "+strconv.FormatUint(third, 10)) {
		t.Fatalf("dlq replay bad-1: %d %q %q", code, out, errOut)
	}
	// The replay succeeds; the older record stays until removed by ID.
	waitFor(t, func() bool { v, _ := c.show("bad-1"); return v.state() == "done" && len(v.DeadLetters) == 1 })
	if code, out, _ := c.jetq("dlq", "rm", "bad-1"); code != 0 || out != "removed 1 record(s)\n" {
		t.Errorf("dlq rm bad-1: %d %q", code, out)
	}
	if code, _, errOut := c.jetq("dlq", "rm", strconv.FormatUint(second, 10)); code != exitError || !strings.Contains(errOut, "no such record") {
		t.Errorf("dlq rm of a removed record: %d %q", code, errOut)
	}
	if v, code := c.show("bad-1"); code != 0 || v.state() != "done" || len(v.DeadLetters) != 0 {
		t.Errorf("after the replay: %d %+v", code, v)
	}
}

// fileAgain files one more dead-letter record of the task with ID id, as
// its worker would for another failure, and returns its sequence.
func fileAgain(t *testing.T, c *cli, id string) uint64 {
	t.Helper()
	names := wire.Names{}
	body := []byte(`{"to":"x@bad"}`)
	env := wire.NewEnvelope(names, trackedEmail.Spec(), id, body, time.Now())
	rec := wire.DeadLetter(names, "default", trackedEmail.Spec().Name, nats.Header(env.Header), body, wire.Failure{
		Reason: tasks.ReasonPermanent, Error: "mailbox does not exist", Stream: "JETQ_TASKS", Seq: 1 << 40,
		Subject: env.Subject, Deliveries: 1, At: time.Now(),
	}, wire.Limits{})
	ack, err := c.js.PublishMsg(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// compact is JSON without its spaces.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// TestTaskShowProgressOfEndedAttempt shows tasks whose handler reported
// progress before its attempt ended: a task done shows none ("99% working"
// would mislead), one dead-lettered shows it as the last progress of its
// attempt.
func TestTaskShowProgressOfEndedAttempt(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	ctx := context.Background()
	def := tasks.Define[Email]("email.progress", tasks.WithStateTracking(), tasks.WithMaxAttempts(1))
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Email]) error {
		if tk.Payload.To == "bad" {
			_ = tasks.ReportProgress(ctx, 50, "half way")
			return tasks.Permanent(errContent("mailbox does not exist"))
		}
		_ = tasks.ReportProgress(ctx, 99, "working")
		return nil
	})
	p, err := producer.New(c.js, producer.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"ok", "bad"} {
		if _, err := producer.Enqueue(ctx, p, def, Email{To: to}, producer.WithID(to)); err != nil {
			t.Fatal(err)
		}
	}
	c.runWorker(reg)
	waitFor(t, func() bool { v, _ := c.show("ok"); return v.state() == "done" })
	waitFor(t, func() bool { v, _ := c.show("bad"); return v.state() == "dead_lettered" })

	if code, out, _ := c.jetq("task", "show", "ok"); code != 0 || strings.Contains(out, "99%") {
		t.Errorf("task show of a task done shows its handler's last progress: %d\n%s", code, out)
	}
	if code, out, _ := c.jetq("task", "show", "bad"); code != 0 || !strings.Contains(out, "  last progress 50% half way (attempt 1, when it ended)\n") {
		t.Errorf("task show of a dead-lettered task: want its last progress labelled: %d\n%s", code, out)
	}
}
