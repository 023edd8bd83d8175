package producer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestGroupTasksCarryTheirCallbacks: the callback options of a task added
// to a group are checked and carried as Enqueue's are, each task its own.
func TestGroupTasksCarryTheirCallbacks(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t)
	ctx := context.Background()
	notify := tasks.Define[struct{}]("group.sent", tasks.WithQueue("notices"))
	failed := tasks.Define[tasks.Failure]("group.failed")
	g := producer.NewGroup()
	producer.Add(g, sendEmail, Email{To: "a@b.c"}, producer.OnSuccess(notify))
	producer.Add(g, chargeCard, "order-1", producer.OnFailure(failed))
	_, msgs := enqueueGroup(t, p, js, g)
	want := []map[string]string{
		{wire.HeaderOnSuccess: "notices group.sent application/json", wire.HeaderOnFailure: ""},
		{wire.HeaderOnSuccess: "", wire.HeaderOnFailure: "default group.failed application/json"},
	}
	for i, m := range msgs {
		for k, v := range want[i] {
			if got := m.Header.Get(k); got != v {
				t.Errorf("task %d: %s %q, want %q", i, k, got, v)
			}
		}
	}
	// A success callback whose payload is not the task's result: refused.
	bad := producer.NewGroup()
	producer.Add(bad, chargeCard, "order-2")
	producer.Add(bad, sendEmail, Email{To: "a@b.c"}, producer.OnSuccess(tasks.Define[int]("group.wrong")))
	if _, err := producer.EnqueueGroup(ctx, p, bad); !errors.Is(err, producer.ErrInvalidOption) {
		t.Errorf("mismatched callback: got %v, want ErrInvalidOption", err)
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 2 {
		t.Errorf("work stream holds %d, want the first group's 2", n)
	}
}
