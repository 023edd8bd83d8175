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
	"github.com/jetq/jetq/tasks"
)

// enqueueMany enqueues n tasks of def for customer id.
func (f *fixture) enqueueMany(t *testing.T, def *tasks.Definition[Order], n, id int) []producer.Result {
	t.Helper()
	os := make([]Order, n)
	for i := range os {
		os[i] = Order{Customer{ID: id}, i}
	}
	rs, err := producer.EnqueueBatch(context.Background(), f.p, def, os)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// count counts the pending tasks of q.
func count(t *testing.T, in *inspect.Inspector, q inspect.Query) int {
	t.Helper()
	q.State, q.Limit = inspect.Pending, inspect.MaxLimit
	return len(all(t, in, q))
}

// TestBulkDelete deletes the 1 000 pending tasks a filter selects among
// others: the count planned is the count deleted, and nothing else is
// touched, neither the tasks around them nor those enqueued after the plan.
func TestBulkDelete(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	for range 4 {
		f.enqueueMany(t, charge, 250, 7) // the target
		f.enqueueMany(t, charge, 100, 8) // same type, other customer
		f.enqueueMany(t, refund, 100, 7) // same customer, other type
	}
	f.deliver(t, charge, 5) // 5 targets already running
	target := inspect.Query{Queue: "default", Task: charge.Name(), Where: &inspect.Match{Path: "customer.id", Value: "7"}}

	b, err := f.in.PlanBulk(ctx, inspect.ActionDelete, target)
	if err != nil {
		t.Fatal(err)
	}
	if b.Count != 995 || b.More || b.Action != inspect.ActionDelete || b.Query.State != inspect.Pending {
		t.Fatalf("plan: %+v; want 995 pending tasks", b)
	}
	late := f.enqueueMany(t, charge, 3, 7) // after the plan: not covered

	// Refused: a token altered, from another plan, or with another count.
	other, err := f.in.PlanBulk(ctx, inspect.ActionDelete, inspect.Query{Task: charge.Name()})
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]inspect.Bulk{
		"token altered":   {Action: b.Action, Query: b.Query, Count: b.Count, Token: edit(b.Token)},
		"token of a plan": {Action: b.Action, Query: b.Query, Count: other.Count, Token: other.Token},
		"query changed":   {Action: b.Action, Query: other.Query, Count: b.Count, Token: b.Token},
		"count changed":   {Action: b.Action, Query: b.Query, Count: b.Count + 1, Token: b.Token},
		"action changed":  {Action: inspect.ActionCancel, Query: inspect.Query{}, Count: b.Count, Token: b.Token},
		"no token":        {Action: b.Action, Query: b.Query, Count: b.Count},
	} {
		if res, err := f.in.ApplyBulk(ctx, bad); !errors.Is(err, inspect.ErrInvalidQuery) || res != (inspect.BulkResult{}) {
			t.Errorf("%s: %+v, %v; want ErrInvalidQuery and nothing done", name, res, err)
		}
	}
	if n := count(t, f.in, inspect.Query{}); n != 4*450+3-5 {
		t.Fatalf("pending after the refusals: %d; want %d, all", n, 4*450+3-5)
	}

	res, err := f.in.ApplyBulk(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if res != (inspect.BulkResult{Done: 995}) {
		t.Errorf("apply: %+v; want 995 done", res)
	}
	for _, tc := range []struct {
		name string
		q    inspect.Query
		want int
	}{
		{"targets", target, 3},
		{"other customer", inspect.Query{Task: charge.Name(), Where: &inspect.Match{Path: "customer.id", Value: "8"}}, 400},
		{"other type", inspect.Query{Task: refund.Name()}, 400},
	} {
		if got := count(t, f.in, tc.q); got != tc.want {
			t.Errorf("%s: %d pending; want %d", tc.name, got, tc.want)
		}
	}
	left := all(t, f.in, inspect.Query{State: inspect.Pending, Task: charge.Name(), Where: &inspect.Match{Path: "customer.id", Value: "7"}})
	for i, tk := range left {
		if tk.ID != late[i].ID {
			t.Errorf("target left %d: %s; want the late %s", i, tk.ID, late[i].ID)
		}
	}
	// Applied again: every task moved on.
	if res, err := f.in.ApplyBulk(ctx, b); err != nil || res != (inspect.BulkResult{MovedOn: 995}) {
		t.Errorf("apply again: %+v, %v; want 995 moved on", res, err)
	}
}

// TestBulkMovedOn counts the tasks that left the state between the plan
// and its application.
func TestBulkMovedOn(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	rs := f.enqueueMany(t, charge, 10, 1)
	b, err := f.in.PlanBulk(ctx, inspect.ActionDelete, inspect.Query{State: inspect.Pending})
	if err != nil || b.Count != 10 {
		t.Fatalf("plan: %+v, %v; want 10", b, err)
	}
	f.deliver(t, charge, 2)
	if err := f.in.Delete(ctx, inspect.Ref{ID: rs[5].ID, Seq: rs[5].Sequence}); err != nil {
		t.Fatal(err)
	}
	res, err := f.in.ApplyBulk(ctx, b)
	if err != nil || res != (inspect.BulkResult{Done: 7, MovedOn: 3}) {
		t.Errorf("apply: %+v, %v; want 7 done, 3 moved on", res, err)
	}
	for _, tc := range []struct {
		name string
		a    inspect.Action
		q    inspect.Query
	}{
		{"unknown action", "purge", inspect.Query{}},
		{"state of another action", inspect.ActionDelete, inspect.Query{State: inspect.Scheduled}},
		{"bad query", inspect.ActionDelete, inspect.Query{Scan: -1}},
	} {
		if _, err := f.in.PlanBulk(ctx, tc.a, tc.q); !errors.Is(err, inspect.ErrInvalidQuery) {
			t.Errorf("%s: %v; want ErrInvalidQuery", tc.name, err)
		}
	}
}

// TestBulkScheduled cancels and runs now the scheduled tasks a filter
// selects, leaving the others scheduled.
func TestBulkScheduled(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	var ids []string
	for i := range 9 {
		ids = append(ids, f.enqueue(t, charge, Order{Customer{ID: i % 3}, i}, producer.WithDelay(time.Hour)).ID)
	}
	for _, tc := range []struct {
		action inspect.Action
		id     string
	}{{inspect.ActionCancel, "0"}, {inspect.ActionRunNow, "1"}} {
		b, err := f.in.PlanBulk(ctx, tc.action, inspect.Query{Where: &inspect.Match{Path: "customer.id", Value: tc.id}})
		if err != nil || b.Count != 3 || b.Query.State != inspect.Scheduled {
			t.Fatalf("plan %s: %+v, %v; want 3 scheduled tasks", tc.action, b, err)
		}
		if res, err := f.in.ApplyBulk(ctx, b); err != nil || res != (inspect.BulkResult{Done: 3}) {
			t.Errorf("apply %s: %+v, %v; want 3 done", tc.action, res, err)
		}
	}
	var left []string
	for _, tk := range all(t, f.in, inspect.Query{State: inspect.Scheduled}) {
		left = append(left, tk.ID)
	}
	if want := []string{ids[2], ids[5], ids[8]}; !slices.Equal(left, want) {
		t.Errorf("scheduled after the bulk actions: %v; want %v", left, want)
	}
	// The tasks run now reach the work stream, as fired tasks do.
	testkit.WaitFor(t, 30*time.Second, func() error {
		var got []string
		for _, tk := range all(t, f.in, inspect.Query{State: inspect.Pending}) {
			got = append(got, tk.ID)
		}
		if want := []string{ids[1], ids[4], ids[7]}; !slices.Equal(got, want) {
			return fmt.Errorf("pending: %v; want %v", got, want)
		}
		return nil
	})
}
