package dlq_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// TestForwarderKeepsFinalOutcome has the forwarder dead-letter a task of a
// type that keeps its final outcome and that was never tracked: its worker
// died on the last attempt, before any record. The forwarder leaves the
// final record, which Result reads as the failure.
func TestForwarderKeepsFinalOutcome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	def := tasks.DefineResult[Job, int]("dlq.kept", tasks.WithAckWait(2*time.Second), tasks.WithMaxAttempts(2))
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	b.runForwarder(t)
	b.killOnLastAttempt(t, def.Definition, 1)
	_, err = inspect.Result(ctx, b.in, def, r.ID)
	var fe *tasks.FailureError
	if !errors.As(err, &fe) {
		t.Fatalf("Result: got %v, want a *tasks.FailureError", err)
	}
	if f := fe.Failure; f.State != string(status.DeadLettered) || f.Reason != tasks.ReasonMaxDeliveries || f.Attempts != 2 || f.Task != "dlq.kept" {
		t.Errorf("failure: got %+v, want dlq.kept dead_lettered with reason max_deliveries after 2 attempts", f)
	}
	st, err := b.in.Status(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.FinishedAt.IsZero() || st.EnqueuedAt.IsZero() {
		t.Errorf("record: got %+v, want its enqueue and finish times", st)
	}
}
