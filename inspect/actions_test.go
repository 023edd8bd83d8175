package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
)

// TestDelete deletes pending tasks by reference and by ID alone, and
// refuses tasks delivered already, gone, or not the one named.
func TestDelete(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	a := f.enqueue(t, charge, Order{N: 1})
	b := f.enqueue(t, charge, Order{N: 2})
	c := f.enqueue(t, charge, Order{N: 3})
	d := f.enqueue(t, refund, Order{N: 4})
	f.deliver(t, charge, 1) // a runs

	for _, tc := range []struct {
		name string
		ref  inspect.Ref
		want error
	}{
		{"delivered", inspect.Ref{ID: a.ID, Seq: a.Sequence}, inspect.ErrMovedOn},
		{"delivered, by ID", inspect.Ref{ID: a.ID}, inspect.ErrNotFound},
		{"another task at seq", inspect.Ref{ID: b.ID, Seq: c.Sequence}, inspect.ErrNotFound},
		{"no such ID", inspect.Ref{ID: "nobody"}, inspect.ErrNotFound},
		{"no ID", inspect.Ref{Seq: b.Sequence}, inspect.ErrInvalidQuery},
		{"past the stream", inspect.Ref{ID: b.ID, Seq: d.Sequence + 100}, inspect.ErrMovedOn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.in.Delete(ctx, tc.ref); !errors.Is(err, tc.want) {
				t.Errorf("Delete(%+v): %v; want an error wrapping %v", tc.ref, err, tc.want)
			}
		})
	}
	if err := f.in.Delete(ctx, inspect.Ref{ID: b.ID, Seq: b.Sequence}); err != nil {
		t.Fatalf("Delete(b): %v", err)
	}
	if err := f.in.Delete(ctx, inspect.Ref{ID: b.ID, Seq: b.Sequence}); !errors.Is(err, inspect.ErrMovedOn) {
		t.Errorf("Delete(b) again: %v; want ErrMovedOn", err)
	}
	if err := f.in.Delete(ctx, inspect.Ref{ID: d.ID}); err != nil {
		t.Fatalf("Delete(d) by ID: %v", err)
	}
	var left []string
	for _, tk := range all(t, f.in, inspect.Query{State: inspect.Pending}) {
		left = append(left, tk.ID)
	}
	if !slices.Equal(left, []string{c.ID}) {
		t.Errorf("pending after the deletes: %v; want only %s", left, c.ID)
	}
	// The delivered task is still in the work stream, untouched.
	st, err := f.js.Stream(ctx, "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := st.GetMsg(ctx, a.Sequence); err != nil || string(m.Data) != `{"customer":{"id":0},"n":1}` {
		t.Errorf("the delivered task: %v; want it kept", err)
	}
}

// TestDeleteReleasesUniqueKey makes a deleted task's unique key take a task
// again at once.
func TestDeleteReleasesUniqueKey(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	first := f.enqueue(t, charge, Order{N: 1}, producer.WithUnique("order-1", time.Hour))
	if dup := f.enqueue(t, charge, Order{N: 2}, producer.WithUnique("order-1", time.Hour)); !dup.Duplicate || dup.ID != first.ID {
		t.Fatalf("second enqueue with the key: %+v; want a duplicate of %s", dup, first.ID)
	}
	if err := f.in.Delete(ctx, inspect.Ref{ID: first.ID, Seq: first.Sequence}); err != nil {
		t.Fatal(err)
	}
	if again := f.enqueue(t, charge, Order{N: 3}, producer.WithUnique("order-1", time.Hour)); again.Duplicate {
		t.Errorf("enqueue with the key after the delete: %+v; want a new task", again)
	}
}

// TestDeleteDone refuses to delete a task that ran, as listed before it
// ran.
func TestDeleteDone(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	a := f.enqueue(t, charge, Order{N: 1})
	listed := all(t, f.in, inspect.Query{State: inspect.Pending})
	if len(listed) != 1 || listed[0].ID != a.ID {
		t.Fatalf("pending: %v; want %s", listed, a.ID)
	}
	r := f.startWorker(t, charge)
	select {
	case <-r.ran:
	case <-time.After(30 * time.Second):
		t.Fatal("the task did not run")
	}
	testkit.WaitFor(t, 30*time.Second, func() error { // acknowledged
		st, err := f.js.Stream(ctx, "JETQ_TASKS")
		if err != nil || st.CachedInfo().State.Msgs != 0 {
			return fmt.Errorf("work stream: %v", err)
		}
		return nil
	})
	if err := f.in.Delete(ctx, listed[0].Ref()); !errors.Is(err, inspect.ErrMovedOn) {
		t.Errorf("Delete of a task that ran: %v; want ErrMovedOn", err)
	}
}
