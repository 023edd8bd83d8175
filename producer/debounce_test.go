package producer_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestDebounceRunsOnceWithTheLastPayload: 100 enqueues of one key within
// its window store one task, which runs once, with the last payload, under
// the key's ID; a second key is a task of its own.
func TestDebounceRunsOnceWithTheLastPayload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[int]("debounce.reindex")
	type run struct {
		id string
		n  int
	}
	runs := make(chan run, 200)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[int]) error {
		runs <- run{tk.ID, tk.Payload}
		return nil
	})
	// Each enqueue starts the window again: it is wide enough that the
	// enqueues of a loaded machine still come within it of each other.
	const window = 3 * time.Second
	var last producer.Result
	for i := range 100 {
		r, err := producer.Enqueue(ctx, p, def, i, producer.WithDebounce("doc-7", window))
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != producer.DebounceID(def, "doc-7") || r.Debounced != (i > 0) || r.Stream != "JETQ_SCHEDULES" {
			t.Fatalf("enqueue %d: got %+v, want ID %q, Debounced %v, in JETQ_SCHEDULES", i, r, producer.DebounceID(def, "doc-7"), i > 0)
		}
		last = r
	}
	other, err := producer.Enqueue(ctx, p, def, 1000, producer.WithDebounce("doc-8", window))
	if err != nil || other.Debounced {
		t.Fatalf("another key: got %+v, %v; want a task of its own", other, err)
	}
	if n := jetqtest.Msgs(t, js, "JETQ_SCHEDULES"); n != 2 {
		t.Errorf("schedule stream holds %d tasks, want 2, one per key", n)
	}

	jetqtest.StartWorkerOn(t, js, reg)

	got := map[string][]int{}
	for range 2 {
		select {
		case r := <-runs:
			got[r.id] = append(got[r.id], r.n)
		case <-time.After(30 * time.Second):
			t.Fatalf("ran %v, want both keys' tasks", got)
		}
	}
	if g := got[last.ID]; len(g) != 1 || g[0] != 99 {
		t.Errorf("key doc-7 ran with %v, want once with the last payload, 99", g)
	}
	if g := got[other.ID]; len(g) != 1 || g[0] != 1000 {
		t.Errorf("key doc-8 ran with %v, want once with 1000", g)
	}
	// Both keys' tasks are settled once both streams are empty.
	jetqtest.WaitEmpty(t, js, "JETQ_SCHEDULES")
	jetqtest.WaitEmpty(t, js, "JETQ_TASKS")
	if n := len(runs); n != 0 {
		t.Errorf("%d more runs, want none", n)
	}
}

// TestDebounceRefusesBadInput: a key that is empty, too long or holds a
// space, a window of 0 or less or beyond the bound, and the options a
// debounced task cannot go with are refused with ErrInvalidOption, and
// nothing is stored.
func TestDebounceRefusesBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	p, err := producer.New(js)
	if err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[int]("debounce.bad")
	long := tasks.Define[int]("debounce." + strings.Repeat("n", 150))
	for _, tc := range []struct {
		name string
		def  *tasks.Definition[int]
		opts []producer.EnqueueOption
		want string
	}{
		{"empty key", def, []producer.EnqueueOption{producer.WithDebounce("", time.Second)}, "key is empty"},
		{"long key", def, []producer.EnqueueOption{producer.WithDebounce(strings.Repeat("k", producer.MaxDebounceKey+1), time.Second)}, "more than 128"},
		{"space", def, []producer.EnqueueOption{producer.WithDebounce("a b", time.Second)}, "space"},
		{"ID too long", long, []producer.EnqueueOption{producer.WithDebounce(strings.Repeat("k", 60), time.Second)}, "use a shorter key"},
		{"zero window", def, []producer.EnqueueOption{producer.WithDebounce("k", 0)}, "more than 0"},
		{"negative window", def, []producer.EnqueueOption{producer.WithDebounce("k", -time.Second)}, "more than 0"},
		{"long window", def, []producer.EnqueueOption{producer.WithDebounce("k", producer.MaxDebounceWindow+1)}, "at most 24h"},
		{"with ID", def, []producer.EnqueueOption{producer.WithDebounce("k", time.Second), producer.WithID("x")}, "leave out WithID"},
		{"with delay", def, []producer.EnqueueOption{producer.WithDebounce("k", time.Second), producer.WithDelay(time.Second)}, "leave out WithDelay"},
		{"with unique", def, []producer.EnqueueOption{producer.WithDebounce("k", time.Second), producer.WithUnique("u", time.Minute)}, "leave out WithUnique"},
	} {
		_, err := producer.Enqueue(ctx, p, tc.def, 1, tc.opts...)
		if !errors.Is(err, producer.ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrInvalidOption saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := producer.EnqueueBatch(ctx, p, def, []int{1, 2}, producer.WithDebounce("k", time.Second)); !errors.Is(err, producer.ErrInvalidOption) {
		t.Errorf("batch: got %v, want ErrInvalidOption", err)
	}
	g := producer.NewGroup()
	producer.Add(g, def, 1, producer.WithDebounce("k", time.Second))
	if _, err := producer.EnqueueGroup(ctx, p, g); !errors.Is(err, producer.ErrInvalidOption) {
		t.Errorf("group: got %v, want ErrInvalidOption", err)
	}
	if _, err := producer.Enqueue(ctx, p, def, 1); err != nil { // provisions the streams, if nothing above did
		t.Fatal(err)
	}
	if n := jetqtest.Msgs(t, js, "JETQ_SCHEDULES"); n != 0 {
		t.Errorf("schedule stream holds %d tasks, want none", n)
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 1 {
		t.Errorf("work stream holds %d tasks, want only the plain one", n)
	}
}

// TestDebounceConcurrentEnqueues: enqueues of one key from several
// producers at once run once, with the payload stored last.
func TestDebounceConcurrentEnqueues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	def := tasks.Define[int]("debounce.concurrent")
	runs := make(chan int, 200)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[int]) error {
		runs <- tk.Payload
		return nil
	})
	const producers, each = 4, 25
	results := make([]producer.Result, producers*each)
	var wg sync.WaitGroup
	for g := range producers {
		p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := range each {
				n := g*each + i
				r, err := producer.Enqueue(ctx, p, def, n, producer.WithDebounce("doc-9", 3*time.Second))
				if err != nil {
					t.Error(err)
				}
				results[n] = r
			}
		})
	}
	wg.Wait()
	last := 0
	for n, r := range results {
		if r.ID != producer.DebounceID(def, "doc-9") {
			t.Fatalf("enqueue %d: ID %q, want the key's", n, r.ID)
		}
		if r.Sequence > results[last].Sequence {
			last = n
		}
	}
	jetqtest.StartWorkerOn(t, js, reg)
	select {
	case got := <-runs:
		if got != last {
			t.Errorf("ran with payload %d, want %d, stored last (seq %d)", got, last, results[last].Sequence)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the key's task did not run")
	}
	jetqtest.WaitEmpty(t, js, "JETQ_SCHEDULES")
	jetqtest.WaitEmpty(t, js, "JETQ_TASKS")
	if n := len(runs); n != 0 {
		t.Errorf("%d more runs, want one in all", n)
	}
}
