package consumer_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// keyRun is one run of a task with a key: its handler's start and end.
type keyRun struct {
	id         string
	attempt    int
	start, end time.Time
}

// keyBook records the runs of tasks by key.
type keyBook struct {
	mu   sync.Mutex
	runs map[string][]keyRun
	// finished is sent a key when its want-th task finishes.
	want     map[string]int
	finished chan string
}

func newKeyBook(want map[string]int) *keyBook {
	return &keyBook{runs: map[string][]keyRun{}, want: want, finished: make(chan string, len(want))}
}

func (b *keyBook) note(key string, r keyRun) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.runs[key] = append(b.runs[key], r)
	if len(b.runs[key]) == b.want[key] {
		b.finished <- key
	}
}

func (b *keyBook) done(key string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.runs[key])
}

// summary says how many tasks of each key ran.
func (b *keyBook) summary() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	keys := slices.Sorted(maps.Keys(b.want))
	var s strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&s, " %s %d/%d", k, len(b.runs[k]), b.want[k])
	}
	return s.String()
}

// check fails t unless every task of every key ran once, as its first
// attempt, and no two runs of one key overlapped (a concurrency of 1 per
// key).
func (b *keyBook) check(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for key, runs := range b.runs {
		if len(runs) != b.want[key] {
			t.Errorf("key %s: %d runs, want %d", key, len(runs), b.want[key])
		}
		seen := map[string]bool{}
		for _, r := range runs {
			if seen[r.id] {
				t.Errorf("key %s: task %s ran twice", key, r.id)
			}
			seen[r.id] = true
			if r.attempt != 1 {
				t.Errorf("key %s: task %s ran as attempt %d: waiting for its key spent an attempt", key, r.id, r.attempt)
			}
		}
		slices.SortFunc(runs, func(a, b keyRun) int { return a.start.Compare(b.start) })
		for i := 1; i < len(runs); i++ {
			if runs[i].start.Before(runs[i-1].end) {
				t.Errorf("key %s: task %s started at %v, before task %s ended at %v: two ran at once",
					key, runs[i].id, runs[i].start.Format(time.StampMicro), runs[i-1].id, runs[i-1].end.Format(time.StampMicro))
			}
		}
	}
}

// TestKeyConcurrencyFairness: one key with 10 000 tasks queued first and
// nine keys with 100 each queued behind them, a concurrency of 1 per key,
// two workers of 2 slots: the nine small keys finish while the big key is
// still running, never two tasks of one key run at once, and every task
// runs once as its first attempt. When each key finished is logged, and
// every 10 s how far each key is. The test suite runs it with 1 000 tasks of
// the big key and 10 of each small one; JETQ_KEY_FAIRNESS_FULL=1 gives the
// issue's 10 000 and 100 (the big key's 10 000 take about ten minutes).
func TestKeyConcurrencyFairness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("perkey.fair", tasks.WithKeyConcurrency(1))
	big, small, smallKeys := 1000, 10, 9
	if os.Getenv("JETQ_KEY_FAIRNESS_FULL") != "" {
		big, small = 10000, 100
	}
	want := map[string]int{"big": big}
	for i := range smallKeys {
		want[fmt.Sprintf("small-%d", i)] = small
	}
	book := newKeyBook(want)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[Args]) error {
		r := keyRun{id: tk.ID, attempt: tk.Attempt, start: time.Now()}
		time.Sleep(time.Millisecond) // the task's work
		r.end = time.Now()
		book.note(tasks.KeyOf(tk.Header), r)
		return nil
	})

	enqueue := func(key string, n int) {
		for sent := 0; sent < n; sent += 1000 {
			batch := make([]Args, min(1000, n-sent))
			if _, err := producer.EnqueueBatch(ctx, b.p, def, batch, producer.WithKey(key)); err != nil {
				t.Fatal(err)
			}
		}
	}
	enqueue("big", big)
	for i := range smallKeys {
		enqueue(fmt.Sprintf("small-%d", i), small)
	}

	start := time.Now()
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(2))
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(2))
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	deadline := time.After(30 * time.Minute)
	for left := smallKeys; left > 0; {
		select {
		case <-progress.C:
			t.Logf("after %v: %s", time.Since(start).Round(time.Second), book.summary())
		case key := <-book.finished:
			left--
			t.Logf("%s finished after %v; big key: %d of %d done", key, time.Since(start).Round(time.Millisecond), book.done("big"), big)
			if key == "big" {
				t.Fatalf("the big key finished before the small keys")
			}
		case <-deadline:
			t.Fatalf("the small keys did not finish within 30 minutes:%s", book.summary())
		}
	}
	for finished := false; !finished; {
		select {
		case <-progress.C:
			t.Logf("after %v: %s", time.Since(start).Round(time.Second), book.summary())
		case <-book.finished:
			finished = true
			t.Logf("big finished after %v", time.Since(start).Round(time.Millisecond))
		case <-deadline:
			t.Fatalf("the big key did not finish within 30 minutes:%s", book.summary())
		}
	}
	book.check(t)
	workEmpty(t, b.js)
	scheduleEmpty(t, b)
}

// TestKeyConcurrencyWorkerDies: a worker that dies (its connection
// closed) while running a task of a key with a concurrency of 1 leaves its
// place to lapse within the type's ack wait; another worker then runs that
// task again and the key's next task, one at a time.
func TestKeyConcurrencyWorkerDies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("perkey.dies", tasks.WithKeyConcurrency(1), tasks.WithAckWait(2*time.Second))

	started := make(chan string, 1)
	hold := make(chan struct{})
	defer close(hold)
	dying := tasks.NewRegistry()
	tasks.MustHandle(dying, def, func(_ context.Context, tk *tasks.Task[Args]) error {
		started <- tk.ID
		<-hold // runs until the test ends: its worker dies meanwhile
		return nil
	})
	_, js := embeddedtest.Connect(t, b.srv)
	w := jetqtest.StartWorkerOn(t, js, dying)

	first, err := producer.Enqueue(ctx, b.p, def, Args{N: 1}, producer.WithKey("acme"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := producer.Enqueue(ctx, b.p, def, Args{N: 2}, producer.WithKey("acme"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-started:
		// Either may take the key's place: two runners pick them up at once.
		if id != first.ID && id != second.ID {
			t.Fatalf("task %s started, want %s or %s", id, first.ID, second.ID)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first task did not start")
	}
	w.Kill()
	killed := time.Now()

	book := newKeyBook(map[string]int{"acme": 2})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[Args]) error {
		book.note(tasks.KeyOf(tk.Header), keyRun{id: tk.ID, attempt: 1, start: time.Now(), end: time.Now()})
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	select {
	case <-book.finished:
		t.Logf("both tasks of the key ran %v after the worker died (ack wait and place TTL 2s)", time.Since(killed).Round(time.Millisecond))
	case <-time.After(time.Minute):
		t.Fatalf("the key's tasks did not run within a minute of the worker's death: %d ran", book.done("acme"))
	}
	book.mu.Lock()
	ids := []string{book.runs["acme"][0].id, book.runs["acme"][1].id}
	book.mu.Unlock()
	slices.Sort(ids)
	wantIDs := []string{first.ID, second.ID}
	slices.Sort(wantIDs)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("ran %v, want %v", ids, wantIDs)
	}
	workEmpty(t, b.js)
}

// TestKeyPlaceHandedToHeldTasks: 30 tasks of one key with a concurrency
// of 1, queued before one worker of 4 slots starts: the worker holds
// those it takes in while the key's place is taken and hands the place
// from each task to the next, so none is set aside (their header
// tasks.HeaderSnoozed is absent), none spends an attempt, and no two run
// at once.
func TestKeyPlaceHandedToHeldTasks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("perkey.handover", tasks.WithKeyConcurrency(1))
	const n = 30
	if _, err := producer.EnqueueBatch(ctx, b.p, def, make([]Args, n), producer.WithKey("acme")); err != nil {
		t.Fatal(err)
	}
	book := newKeyBook(map[string]int{"acme": n})
	var mu sync.Mutex
	var setAside []string
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[Args]) error {
		r := keyRun{id: tk.ID, attempt: tk.Attempt, start: time.Now()}
		if s := tk.Header.Get(tasks.HeaderSnoozed); s != "" {
			mu.Lock()
			setAside = append(setAside, tk.ID+" ("+s+")")
			mu.Unlock()
		}
		time.Sleep(time.Millisecond) // the task's work
		r.end = time.Now()
		book.note(tasks.KeyOf(tk.Header), r)
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg, consumer.WithConcurrency(4))
	select {
	case <-book.finished:
	case <-time.After(time.Minute):
		t.Fatalf("%d of %d tasks ran within a minute", book.done("acme"), n)
	}
	book.check(t)
	mu.Lock()
	defer mu.Unlock()
	if len(setAside) > 0 {
		t.Errorf("%d of %d tasks were set aside before they ran, want none: %v", len(setAside), n, setAside)
	}
	workEmpty(t, b.js)
}
