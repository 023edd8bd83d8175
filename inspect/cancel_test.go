package inspect_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// TestCancelBadInputChangesNothing: an empty ID, an unknown one, a task
// done, dead-lettered or cancelled already are refused with an error a
// caller can match, and no cancel record is stored.
func TestCancelBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	tracked := tasks.Define[Order]("billing.audit", tasks.WithStateTracking())
	failing := tasks.Define[Order]("billing.refund")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, tracked, func(context.Context, *tasks.Task[Order]) error { return nil })
	tasks.MustHandle(reg, failing, func(context.Context, *tasks.Task[Order]) error {
		return tasks.Permanent(errors.New("no such order"))
	})
	f.runWorker(t, reg)
	done := f.enqueue(t, tracked, Order{N: 1})
	if st, err := f.in.WaitStatus(ctx, done.ID); err != nil || st.State != status.Done {
		t.Fatalf("status: %+v, %v; want done", st, err)
	}
	dead := f.enqueue(t, failing, Order{N: 2})
	f.waitRecords(t, 1)
	jetqtest.WaitEmpty(t, f.js, "JETQ_TASKS") // filed, then terminated
	queued := f.enqueue(t, charge, Order{N: 3})
	if err := f.in.Cancel(ctx, inspect.Ref{ID: queued.ID}); err != nil {
		t.Fatal(err)
	}
	cancels := jetqtest.Msgs(t, f.js, "KV_JETQ_CANCELS")

	for _, tc := range []struct {
		name    string
		ref     inspect.Ref
		want    error
		mention string
	}{
		{"empty ID", inspect.Ref{}, inspect.ErrInvalidQuery, "no task ID"},
		{"unknown ID", inspect.Ref{ID: "nobody"}, inspect.ErrNotFound, "no such task"},
		{"done", inspect.Ref{ID: done.ID}, inspect.ErrMovedOn, "done already"},
		{"dead-lettered", inspect.Ref{ID: dead.ID}, inspect.ErrMovedOn, "dead-lettered already"},
		{"cancelled", inspect.Ref{ID: queued.ID}, inspect.ErrMovedOn, "cancelled already"},
	} {
		err := f.in.Cancel(ctx, tc.ref)
		if !errors.Is(err, tc.want) || !contains(err, tc.mention) {
			t.Errorf("%s: Cancel(%+v): %v; want an error wrapping %v that says %q", tc.name, tc.ref, err, tc.want, tc.mention)
		}
	}
	if n := jetqtest.Msgs(t, f.js, "KV_JETQ_CANCELS"); n != cancels {
		t.Errorf("cancel records: %d after the refusals, want %d", n, cancels)
	}
}
