package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Report is the result of the history tests' tasks.
type Report struct {
	Rows int    `json:"rows"`
	File string `json:"file"`
}

// TestCompletedHistoryFromAWorker runs tasks of a result type with
// retention: the worker's final records list them as completed, newest
// first, with their attempts, duration and result size; a task
// dead-lettered is not listed.
func TestCompletedHistoryFromAWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, p, in := setupQueues(t)
	def := tasks.DefineResult[int, Report]("hist.build", tasks.WithRetention(time.Hour), tasks.WithMaxAttempts(3))
	var first atomic.Bool
	reg := tasks.NewRegistry()
	tasks.MustHandleResult(reg, def, func(ctx context.Context, tk *tasks.Task[int]) (Report, error) {
		switch {
		case tk.Payload < 0:
			return Report{}, tasks.Permanent(errors.New("negative"))
		case tk.Payload == 2 && first.CompareAndSwap(false, true):
			return Report{}, tasks.RetryAfter(10*time.Millisecond, errors.New("upstream 503"))
		}
		time.Sleep(5 * time.Millisecond) // a measurable duration, not synchronisation
		return Report{Rows: tk.Payload, File: fmt.Sprintf("r%d.csv", tk.Payload)}, nil
	})
	runWorker(t, srv, reg)
	for _, n := range []int{1, -1, 2} {
		if _, err := producer.Enqueue(ctx, p, def, n, producer.WithID(fmt.Sprintf("b%d", n))); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := inspect.Result(wctx, in, def, fmt.Sprintf("b%d", n))
		cancel()
		var fe *tasks.FailureError
		if err != nil && !(n < 0 && errors.As(err, &fe)) {
			t.Fatalf("b%d: %v", n, err)
		}
	}
	pg, err := in.Tasks(ctx, inspect.Query{State: inspect.Completed, Task: "hist.build"})
	if err != nil {
		t.Fatal(err)
	}
	if got := taskIDs(pg.Tasks); strings.Join(got, ",") != "b2,b1" {
		t.Fatalf("completed: %v, want [b2 b1]", got)
	}
	b2, b1 := pg.Tasks[0], pg.Tasks[1]
	if b2.Attempt != 2 || b1.Attempt != 1 {
		t.Errorf("attempts: b2 %d, b1 %d; want 2 and 1", b2.Attempt, b1.Attempt)
	}
	for _, tk := range pg.Tasks {
		if tk.Duration < 5*time.Millisecond || tk.StartedAt.IsZero() || tk.FinishedAt.Before(tk.StartedAt) {
			t.Errorf("%s: duration %v from %v to %v", tk.ID, tk.Duration, tk.StartedAt, tk.FinishedAt)
		}
		if want := len(fmt.Sprintf(`{"rows":%d,"file":"r%d.csv"}`, 1, 1)); tk.ResultSize != want {
			t.Errorf("%s: result size %d, want %d", tk.ID, tk.ResultSize, want)
		}
	}
}
