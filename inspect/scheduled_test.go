package inspect_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// TestScheduledList lists delayed tasks with their RunAt, filtered and
// paged as the pending list is.
func TestScheduledList(t *testing.T) {
	t.Parallel()
	f := setup(t)
	in := time.Now().Add(time.Hour).Truncate(time.Second)
	var ids []string
	for i := range 5 {
		def := charge
		if i%2 == 1 {
			def = refund
		}
		ids = append(ids, f.enqueue(t, def, Order{Customer{ID: i % 2}, i}, producer.WithRunAt(in.Add(time.Duration(i)*time.Minute))).ID)
	}
	f.enqueue(t, charge, Order{N: 9}) // pending, not scheduled

	got := all(t, f.in, inspect.Query{State: inspect.Scheduled, Limit: 2})
	if len(got) != 5 {
		t.Fatalf("got %d scheduled tasks; want 5", len(got))
	}
	for i, tk := range got {
		if tk.ID != ids[i] || !tk.RunAt.Equal(in.Add(time.Duration(i)*time.Minute)) || tk.State != inspect.Scheduled ||
			tk.EnqueuedAt.IsZero() || tk.Seq == 0 || len(tk.Payload) == 0 {
			t.Errorf("task %d: %+v; want %s due at %v", i, tk, ids[i], in.Add(time.Duration(i)*time.Minute))
		}
	}
	for _, tc := range []struct {
		name string
		q    inspect.Query
		want []string
	}{
		{"task", inspect.Query{State: inspect.Scheduled, Task: refund.Name()}, []string{ids[1], ids[3]}},
		{"queue", inspect.Query{State: inspect.Scheduled, Queue: "default", Limit: 1}, []string{ids[0], ids[2], ids[4]}},
		{"where", inspect.Query{State: inspect.Scheduled, Where: &inspect.Match{Path: "customer.id", Value: "0"}}, []string{ids[0], ids[2], ids[4]}},
		{"since", inspect.Query{State: inspect.Scheduled, Since: got[3].EnqueuedAt}, []string{ids[3], ids[4]}},
		{"until", inspect.Query{State: inspect.Scheduled, Until: got[1].EnqueuedAt}, []string{ids[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, tk := range all(t, f.in, tc.q) {
				got = append(got, tk.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v; want %v", got, tc.want)
			}
		})
	}
}

// TestCancel cancels a delayed task, whose tracked status reads cancelled
// and whose unique key takes a task again, and refuses what moved on.
func TestCancel(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	tracked := tasks.Define[Order]("billing.remind", tasks.WithStateTracking())
	a := f.enqueue(t, tracked, Order{N: 1}, producer.WithDelay(time.Hour), producer.WithUnique("remind-1", time.Hour))
	b := f.enqueue(t, charge, Order{N: 2}, producer.WithDelay(time.Hour))
	listed := all(t, f.in, inspect.Query{State: inspect.Scheduled})

	if err := f.in.Cancel(ctx, listed[0].Ref()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ref  inspect.Ref
		want error
	}{
		{"cancelled already", listed[0].Ref(), inspect.ErrMovedOn},
		{"never scheduled", inspect.Ref{ID: "nobody"}, inspect.ErrNotFound},
		{"another seq", inspect.Ref{ID: b.ID, Seq: listed[1].Seq + 1}, inspect.ErrMovedOn},
		{"no ID", inspect.Ref{Seq: listed[1].Seq}, inspect.ErrInvalidQuery},
	} {
		if err := f.in.Cancel(ctx, tc.ref); !errors.Is(err, tc.want) {
			t.Errorf("%s: Cancel(%+v): %v; want an error wrapping %v", tc.name, tc.ref, err, tc.want)
		}
	}
	left := all(t, f.in, inspect.Query{State: inspect.Scheduled})
	if len(left) != 1 || left[0].ID != b.ID {
		t.Errorf("scheduled after the cancel: %v; want only %s", left, b.ID)
	}
	if st, err := f.in.Status(ctx, a.ID); err != nil || st.State != status.Cancelled {
		t.Errorf("status of the cancelled task: %+v, %v; want cancelled", st, err)
	}
	if again := f.enqueue(t, tracked, Order{N: 3}, producer.WithDelay(time.Hour), producer.WithUnique("remind-1", time.Hour)); again.Duplicate {
		t.Errorf("enqueue with the cancelled task's unique key: %+v; want a new task", again)
	}
	// By ID alone.
	if err := f.in.Cancel(ctx, inspect.Ref{ID: b.ID}); err != nil {
		t.Errorf("Cancel by ID: %v", err)
	}
}

// runs counts the runs of each task ID by a worker of defs.
type runs struct {
	mu  sync.Mutex
	ids map[string]int
	ran chan string
}

func (r *runs) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ids[id]
}

// startWorker runs a worker of defs on its own connection until the test
// ends, and counts its runs.
func (f *fixture) startWorker(t *testing.T, defs ...*tasks.Definition[Order]) *runs {
	t.Helper()
	r := &runs{ids: map[string]int{}, ran: make(chan string, 1000)}
	reg := tasks.NewRegistry()
	for _, def := range defs {
		tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[Order]) error {
			r.mu.Lock()
			r.ids[tk.ID]++
			r.mu.Unlock()
			r.ran <- tk.ID
			return nil
		})
	}
	jetqtest.StartWorker(t, f.srv, reg)
	return r
}

// TestRunNow runs a delayed task at once, once, and refuses one that has
// run.
func TestRunNow(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	r := f.startWorker(t, charge)
	a := f.enqueue(t, charge, Order{N: 1}, producer.WithDelay(time.Hour))
	listed := all(t, f.in, inspect.Query{State: inspect.Scheduled})
	if len(listed) != 1 {
		t.Fatalf("scheduled: %v; want 1", listed)
	}
	if err := f.in.RunNow(ctx, listed[0].Ref()); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-r.ran:
		if id != a.ID {
			t.Errorf("ran %s; want %s", id, a.ID)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the task did not run")
	}
	if err := f.in.RunNow(ctx, listed[0].Ref()); !errors.Is(err, inspect.ErrMovedOn) {
		t.Errorf("RunNow again: %v; want ErrMovedOn", err)
	}
	if left := all(t, f.in, inspect.Query{State: inspect.Scheduled}); len(left) != 0 {
		t.Errorf("scheduled after RunNow: %v; want none", left)
	}
}
