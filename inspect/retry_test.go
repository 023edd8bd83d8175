package inspect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// retryingTask waits until the retrying list shows task id, and returns it.
func retryingTask(t *testing.T, in *Inspector, id string) TaskInfo {
	t.Helper()
	var got TaskInfo
	testkit.WaitFor(t, 15*time.Second, func() error {
		p, err := list(context.Background(), in, Query{State: Retrying})
		if err != nil {
			return err
		}
		for _, tk := range p.Tasks {
			if tk.ID == id && tk.Attempt > 0 {
				got = tk
				return nil
			}
		}
		return fmt.Errorf("%s is not listed as retrying: %v", id, ids(p))
	})
	return got
}

// settledAll waits until the work stream holds nothing of task subject
// and its consumer has nothing pending: no run of it is left to come.
func settledAll(t *testing.T, in *Inspector, js jetstream.JetStream, queue, task string) {
	t.Helper()
	testkit.WaitFor(t, 15*time.Second, func() error {
		ctx := context.Background()
		s, err := js.Stream(ctx, "JETQ_TASKS")
		if err != nil {
			return err
		}
		subject := in.names.TaskSubject(queue, task)
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			return err
		}
		if n := info.State.Subjects[subject]; n != 0 {
			return fmt.Errorf("work stream holds %d messages of %s", n, task)
		}
		c, err := s.Consumer(ctx, in.names.Durable(queue, task))
		if err != nil {
			return err
		}
		if ci := c.CachedInfo(); ci.NumAckPending != 0 || ci.NumPending != 0 {
			return fmt.Errorf("consumer of %s: %d pending acknowledgement, %d pending", task, ci.NumAckPending, ci.NumPending)
		}
		return nil
	})
}

// TestRetryNow runs a task waiting out an hour's backoff now, as its
// second attempt; a task that uses its last attempt that way is
// dead-lettered, not retried again; and a task that moved on — already
// running again, or done — is refused with ErrMovedOn, leaving everything
// as it was.
func TestRetryNow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStateSetup(t)
	flaky := tasks.Define[stArgs]("rn.flaky")
	last := tasks.Define[stArgs]("rn.last", tasks.WithMaxAttempts(2))
	slow := tasks.Define[stArgs]("rn.slow")
	var ran runs
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, flaky, func(ctx context.Context, tk *tasks.Task[stArgs]) error {
		ran.add(tk.ID, tk.Attempt)
		if tk.Attempt == 1 {
			return tasks.RetryAfter(time.Hour, errors.New("not yet"))
		}
		return nil
	})
	tasks.MustHandle(reg, last, func(ctx context.Context, tk *tasks.Task[stArgs]) error {
		ran.add(tk.ID, tk.Attempt)
		return tasks.RetryAfter(time.Hour, errors.New("never"))
	})
	tasks.MustHandle(reg, slow, func(ctx context.Context, tk *tasks.Task[stArgs]) error {
		ran.add(tk.ID, tk.Attempt)
		<-release
		return nil
	})
	s.worker(t, reg, consumer.WithConcurrency(4))
	t.Cleanup(func() { close(release) })
	for _, e := range []struct {
		def *tasks.Definition[stArgs]
		id  string
	}{{flaky, "flaky-1"}, {last, "last-1"}, {slow, "slow-1"}} {
		if _, err := producer.Enqueue(ctx, s.p, e.def, stArgs{}, producer.WithID(e.id)); err != nil {
			t.Fatal(err)
		}
	}

	tk := retryingTask(t, s.in, "flaky-1")
	if err := s.in.RetryNow(ctx, tk.Ref()); err != nil {
		t.Fatalf("RetryNow: %v", err)
	}
	settledAll(t, s.in, s.js, "default", "rn.flaky")
	if got := ran.of("flaky-1"); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("flaky-1 ran attempts %v, want [1 2]", got)
	}
	// Done now: its message is gone.
	if err := s.in.RetryNow(ctx, tk.Ref()); !errors.Is(err, ErrMovedOn) {
		t.Errorf("RetryNow of a task done: got %v, want ErrMovedOn", err)
	}

	tk = retryingTask(t, s.in, "last-1")
	if err := s.in.RetryNow(ctx, tk.Ref()); err != nil {
		t.Fatalf("RetryNow of last-1: %v", err)
	}
	settledAll(t, s.in, s.js, "default", "rn.last")
	if got := ran.of("last-1"); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("last-1 ran attempts %v, want [1 2]", got)
	}
	testkit.WaitFor(t, 15*time.Second, func() error {
		p, err := list(ctx, s.in, Query{State: Failed, Task: "rn.last"})
		if err != nil {
			return err
		}
		if len(p.Tasks) != 1 || p.Tasks[0].Reason != tasks.ReasonMaxAttempts || p.Tasks[0].Attempt != 2 {
			return fmt.Errorf("failed rn.last: %+v, want last-1 dead-lettered after its 2 attempts", p.Tasks)
		}
		return nil
	})

	// Running: refused, and still running, unchanged.
	var running TaskInfo
	testkit.WaitFor(t, 15*time.Second, func() error {
		p, err := list(ctx, s.in, Query{State: Running, Task: "rn.slow"})
		if err != nil || len(p.Tasks) != 1 {
			return fmt.Errorf("running rn.slow: %v %v", ids(p), err)
		}
		running = p.Tasks[0]
		return nil
	})
	work, err := s.js.Stream(ctx, "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	before, err := work.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.in.RetryNow(ctx, running.Ref()); !errors.Is(err, ErrMovedOn) {
		t.Errorf("RetryNow of a running task: got %v, want ErrMovedOn", err)
	}
	after, err := work.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.State.LastSeq != before.State.LastSeq || after.State.Msgs != before.State.Msgs {
		t.Errorf("RetryNow of a running task changed the work stream: %+v, then %+v", before.State, after.State)
	}
	if got := ran.of("slow-1"); !slices.Equal(got, []int{1}) {
		t.Errorf("slow-1 ran attempts %v, want [1]", got)
	}
	for _, bad := range []Ref{{}, {ID: "flaky-1"}} {
		if err := s.in.RetryNow(ctx, bad); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("RetryNow(%+v): got %v, want ErrInvalidQuery", bad, err)
		}
	}
	if err := s.in.RetryNow(ctx, Ref{ID: "other", Seq: running.Seq}); !errors.Is(err, ErrNotFound) {
		t.Errorf("RetryNow of another task's seq: got %v, want ErrNotFound", err)
	}
}

// TestRetryNowRacesTheRetry makes the original's retry fall due in the
// middle of RetryNow, at each of its two steps that race a worker: before
// the copy is published and claimed, the original's redelivery claims its
// run first, and RetryNow is refused, its copy removed; after the copy's
// claim, the original's redelivery finds the run claimed and is dropped
// unrun. Either way the task runs its second attempt once, and nothing is
// left to run.
func TestRetryNowRacesTheRetry(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"publish", "delete"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newStateSetup(t)
			race := tasks.Define[stArgs]("rn.race")
			var ran runs
			second := make(chan struct{}, 2)
			reg := tasks.NewRegistry()
			tasks.MustHandle(reg, race, func(ctx context.Context, tk *tasks.Task[stArgs]) error {
				ran.add(tk.ID, tk.Attempt)
				if tk.Attempt == 1 {
					// Time enough to list it first; due before RetryNow is through.
					return tasks.RetryAfter(3*time.Second, errors.New("not yet"))
				}
				second <- struct{}{}
				return nil
			})
			s.worker(t, reg)
			if _, err := producer.Enqueue(ctx, s.p, race, stArgs{}, producer.WithID("race-1")); err != nil {
				t.Fatal(err)
			}
			tk := retryingTask(t, s.in, "race-1")
			work, err := s.js.Stream(ctx, "JETQ_TASKS")
			if err != nil {
				t.Fatal(err)
			}
			s.in.retryHook = func(at string) {
				if at != step {
					return
				}
				switch step {
				case "publish": // the original runs again first
					select {
					case <-second:
					case <-time.After(30 * time.Second):
						t.Error("the original's retry did not come")
					}
				case "delete": // the original comes again, and is dropped unrun
					testkit.WaitFor(t, 30*time.Second, func() error {
						if _, err := work.GetMsg(ctx, tk.Seq); !errors.Is(err, jetstream.ErrMsgNotFound) {
							return fmt.Errorf("the original is still stored (%v)", err)
						}
						return nil
					})
				}
			}
			err = s.in.RetryNow(ctx, tk.Ref())
			switch {
			case step == "publish" && !errors.Is(err, ErrMovedOn):
				t.Errorf("RetryNow while the original runs again: got %v, want ErrMovedOn", err)
			case step == "delete" && err != nil:
				t.Errorf("RetryNow: %v", err)
			}
			settledAll(t, s.in, s.js, "default", "rn.race")
			if got := ran.of("race-1"); !slices.Equal(got, []int{1, 2}) {
				t.Errorf("race-1 ran attempts %v, want [1 2]", got)
			}
		})
	}
}

// TestRetryNowManyAroundTheirRetry retries many tasks now at random
// moments around the time their own retry falls due: whatever RetryNow
// answers, each task runs its second attempt exactly once.
func TestRetryNowManyAroundTheirRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStateSetup(t)
	many := tasks.Define[stArgs]("rn.many")
	var ran runs
	reg := tasks.NewRegistry()
	retryOnce(reg, many, &ran, func(tk *tasks.Task[stArgs]) time.Duration {
		return time.Duration(1500+tk.Payload.N*20) * time.Millisecond
	})
	s.worker(t, reg, consumer.WithConcurrency(8))
	const n = 24
	for i := range n {
		if _, err := producer.Enqueue(ctx, s.p, many, stArgs{N: i}, producer.WithID(fmt.Sprintf("many-%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Retry each now at its own moment around the time its retry falls
	// due, from 40 ms before to 40 ms after (the server's clock is this
	// one's).
	type answer struct {
		id  string
		err error
	}
	got := make(chan answer, n)
	listed := map[string]bool{}
	testkit.WaitFor(t, 30*time.Second, func() error {
		p, err := list(ctx, s.in, Query{State: Retrying, Limit: n})
		if err != nil {
			return err
		}
		for _, tk := range p.Tasks {
			if listed[tk.ID] || tk.NextAttemptAt.IsZero() {
				continue
			}
			listed[tk.ID] = true
			offset := time.Duration(len(listed)%9-4) * 10 * time.Millisecond
			time.AfterFunc(time.Until(tk.NextAttemptAt.Add(offset)), func() {
				got <- answer{tk.ID, s.in.RetryNow(ctx, tk.Ref())}
			})
		}
		if len(listed) < n {
			return fmt.Errorf("%d of %d listed as retrying", len(listed), n)
		}
		return nil
	})
	answers := map[string]error{}
	for range n {
		a := <-got
		answers[a.id] = a.err
	}
	settledAll(t, s.in, s.js, "default", "rn.many")
	counts := map[string]int{}
	for i := range n {
		id := fmt.Sprintf("many-%02d", i)
		if got := ran.of(id); !slices.Equal(got, []int{1, 2}) {
			t.Errorf("%s ran attempts %v, want [1 2]", id, got)
		}
		switch err := answers[id]; {
		case err == nil:
			counts["run now"]++
		case errors.Is(err, ErrMovedOn):
			counts["moved on"]++
		case errors.Is(err, ErrNotFound):
			counts["retry no longer listed"]++
		default:
			t.Errorf("RetryNow(%s): %v", id, err)
		}
	}
	t.Logf("RetryNow answers: %v", counts)
}

// TestRetryNowInBulk plans a retry now of the retrying tasks of one type,
// with a retrying task of another type and a running one of the same type
// around: the count is the tasks retried, each runs its second attempt
// once, and the others are left alone.
func TestRetryNowInBulk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStateSetup(t)
	mine := tasks.Define[stArgs]("rn.bulk")
	other := tasks.Define[stArgs]("rn.other")
	var ran runs
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, mine, func(ctx context.Context, tk *tasks.Task[stArgs]) error {
		ran.add(tk.ID, tk.Attempt)
		switch {
		case tk.Payload.N == 9:
			<-release // running throughout
		case tk.Attempt == 1:
			return tasks.RetryAfter(time.Hour, errors.New("not yet"))
		}
		return nil
	})
	tasks.MustHandle(reg, other, func(ctx context.Context, tk *tasks.Task[stArgs]) error {
		ran.add(tk.ID, tk.Attempt)
		return tasks.RetryAfter(time.Hour, errors.New("not yet"))
	})
	s.worker(t, reg, consumer.WithConcurrency(8))
	t.Cleanup(func() { close(release) })
	for i, id := range []string{"bulk-1", "bulk-2", "bulk-3"} {
		if _, err := producer.Enqueue(ctx, s.p, mine, stArgs{N: i}, producer.WithID(id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := producer.Enqueue(ctx, s.p, mine, stArgs{N: 9}, producer.WithID("bulk-running")); err != nil {
		t.Fatal(err)
	}
	if _, err := producer.Enqueue(ctx, s.p, other, stArgs{}, producer.WithID("other-1")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"bulk-1", "bulk-2", "bulk-3", "other-1"} {
		retryingTask(t, s.in, id)
	}
	b, err := s.in.PlanBulk(ctx, ActionRetry, Query{Task: "rn.bulk"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Count != 3 {
		t.Fatalf("plan: got a count of %d, want the 3 retrying rn.bulk tasks", b.Count)
	}
	res, err := s.in.ApplyBulk(ctx, b)
	if err != nil || res.Done != 3 || res.MovedOn != 0 {
		t.Fatalf("apply: got %+v %v, want 3 done", res, err)
	}
	testkit.WaitFor(t, 15*time.Second, func() error {
		for _, id := range []string{"bulk-1", "bulk-2", "bulk-3"} {
			if got := ran.of(id); !slices.Equal(got, []int{1, 2}) {
				return fmt.Errorf("%s ran attempts %v, want [1 2]", id, got)
			}
		}
		return nil
	})
	if got := ran.of("other-1"); !slices.Equal(got, []int{1}) {
		t.Errorf("other-1 ran attempts %v, want [1]: another type's retry", got)
	}
	if got := ran.of("bulk-running"); !slices.Equal(got, []int{1}) {
		t.Errorf("bulk-running ran attempts %v, want [1]", got)
	}
	p, err := list(ctx, s.in, Query{State: Retrying})
	if err != nil || !slices.Equal(ids(p), []string{"other-1"}) {
		t.Errorf("retrying after the bulk: %v %v, want [other-1]", ids(p), err)
	}
}

// TestRetryNowOfAGroupedTask runs now a retrying task that was enqueued in
// a group: its copy is a plain task, not a message of its group's atomic
// batch, whose headers the stored message keeps.
func TestRetryNowOfAGroupedTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStateSetup(t)
	flaky := tasks.Define[stArgs]("rn.grouped")
	var ran runs
	reg := tasks.NewRegistry()
	retryOnce(reg, flaky, &ran, func(*tasks.Task[stArgs]) time.Duration { return time.Hour })
	s.worker(t, reg, consumer.WithConcurrency(4))
	g := producer.NewGroup()
	for _, id := range []string{"grouped-1", "grouped-2", "grouped-3"} {
		producer.Add(g, flaky, stArgs{}, producer.WithID(id))
	}
	if _, err := producer.EnqueueGroup(ctx, s.p, g); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"grouped-1", "grouped-2", "grouped-3"} { // the batch's first, middle and commit
		if err := s.in.RetryNow(ctx, retryingTask(t, s.in, id).Ref()); err != nil {
			t.Fatalf("RetryNow of %s: %v", id, err)
		}
	}
	settledAll(t, s.in, s.js, "default", "rn.grouped")
	for _, id := range []string{"grouped-1", "grouped-2", "grouped-3"} {
		if got := ran.of(id); !slices.Equal(got, []int{1, 2}) {
			t.Errorf("%s ran attempts %v, want [1 2]", id, got)
		}
	}
}

// retryOnce handles def's tasks in reg: each run is recorded in ran, and a
// first attempt fails to be retried after wait.
func retryOnce(reg *tasks.Registry, def *tasks.Definition[stArgs], ran *runs, wait func(*tasks.Task[stArgs]) time.Duration) {
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[stArgs]) error {
		ran.add(tk.ID, tk.Attempt)
		if tk.Attempt == 1 {
			return tasks.RetryAfter(wait(tk), errors.New("not yet"))
		}
		return nil
	})
}

// TestRetryNowOfACallback runs a retrying callback now. A callback claims
// its ID when it first runs, against a second enqueue of it; the copy
// RetryNow publishes continues that run, so it must not meet that claim as
// a second enqueue and be dropped, nor the original's retry with it.
func TestRetryNowOfACallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStateSetup(t)
	parent := tasks.Define[stArgs]("rn.parent")
	notify := tasks.Define[struct{}]("rn.notify")
	var ran runs
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, parent, func(context.Context, *tasks.Task[stArgs]) error { return nil })
	tasks.MustHandle(reg, notify, func(ctx context.Context, tk *tasks.Task[struct{}]) error {
		ran.add(tk.ID, tk.Attempt)
		if tk.Attempt == 1 {
			return tasks.RetryAfter(time.Hour, errors.New("the webhook is down"))
		}
		return nil
	})
	s.worker(t, reg)
	if _, err := producer.Enqueue(ctx, s.p, parent, stArgs{}, producer.WithID("parent-1"), producer.OnSuccess(notify)); err != nil {
		t.Fatal(err)
	}
	cb := retryingTask(t, s.in, "parent-1:on-success:1") // the callback's ID: <parent>:<kind>:<seq>
	if err := s.in.RetryNow(ctx, cb.Ref()); err != nil {
		t.Fatalf("RetryNow of the callback: %v", err)
	}
	settledAll(t, s.in, s.js, "default", "rn.notify")
	if got := ran.of(cb.ID); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("the callback %s ran attempts %v, want [1 2]", cb.ID, got)
	}
}
