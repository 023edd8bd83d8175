package consumer_test

import (
	"context"
	"testing"

	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Receipt is the result of the result tasks of the callback tests.
type Receipt struct {
	Total int    `json:"total"`
	Note  string `json:"note"`
}

func TestOnSuccessReceivesTheTypedResult(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	parent := tasks.DefineResult[Args, Receipt]("cb.charge")
	notify := tasks.Define[Receipt]("cb.charge.done")
	reg := tasks.NewRegistry()
	tasks.MustHandleResult(reg, parent, func(ctx context.Context, tk *tasks.Task[Args]) (Receipt, error) {
		return Receipt{Total: tk.Payload.N * 100, Note: tk.Payload.Note}, nil
	})
	onDone, done := callbackRecorder[Receipt]()
	tasks.MustHandle(reg, notify, onDone)
	startAnnounced(t, b, reg)

	r, err := producer.Enqueue(ctx, b.p, parent, Args{N: 5, Note: "paid"}, producer.OnSuccess(notify))
	if err != nil {
		t.Fatal(err)
	}
	run := nextRun(t, done)
	if want := (Receipt{Total: 500, Note: "paid"}); run.payload != want || run.parent != r.ID {
		t.Errorf("callback got %+v of %q, want %+v of %q", run.payload, run.parent, want, r.ID)
	}
	workEmpty(t, b.js)
	if len(done) != 0 {
		t.Errorf("the callback ran %d more times, want once", len(done))
	}
}
