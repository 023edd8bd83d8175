package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestWaitEndsAtTheBudget: a wait longer than what is left of the budget is
// cut to end with it, so a last try goes out then; the next wait refuses.
func TestWaitEndsAtTheBudget(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(time.Second) // long enough that no stall passes it before the first wait
	bo := Until(time.Hour, time.Hour, deadline)
	if err := bo.Wait(context.Background()); err != nil {
		t.Fatalf("first wait: got %v, want nil at the budget's end", err)
	}
	if now := time.Now(); now.Before(deadline) {
		t.Errorf("first wait returned %v before the budget's end", deadline.Sub(now))
	}
	if err := bo.Wait(context.Background()); !errors.Is(err, ErrBudget) {
		t.Errorf("second wait: got %v, want ErrBudget", err)
	}
	if err := New(time.Millisecond, time.Millisecond, 0).Wait(context.Background()); err != nil {
		t.Errorf("no budget: got %v, want nil", err)
	}
}
