package consumer_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestLongTasksBehindABacklogRunOnce runs tasks that take 2.5 times the ack
// wait, queued far beyond the workers' slots, on several workers with
// default options but the ack wait. No delivery waits anywhere the workers
// cannot heartbeat it, so none is redelivered elsewhere: each task runs
// exactly once.
func TestLongTasksBehindABacklogRunOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		concurrency []int
	}{
		{"equal workers", []int{4, 4}},
		{"unequal workers", []int{1, 3, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			const ackWait, work, n = time.Second, 2500 * time.Millisecond, 24
			def := tasks.Define[Args]("test.long", tasks.WithTimeout(time.Minute))
			var mu sync.Mutex
			runs := map[string]int{}
			done := make(chan struct{}, n*3)
			reg := tasks.NewRegistry()
			tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
				mu.Lock()
				runs[tk.ID]++
				mu.Unlock()
				select {
				case <-time.After(work):
				case <-ctx.Done():
					return ctx.Err()
				}
				done <- struct{}{}
				return nil
			})
			ids := map[string]bool{}
			for i := range n {
				r, err := producer.Enqueue(ctx, b.p, def, Args{N: i})
				if err != nil {
					t.Fatal(err)
				}
				ids[r.ID] = true
			}
			for _, c := range tc.concurrency {
				b.startWorker(t, reg, consumer.WithAckWait(ackWait), consumer.WithConcurrency(c))
			}
			for range n {
				select {
				case <-done:
				case <-time.After(60 * time.Second):
					t.Fatal("tasks did not finish")
				}
			}
			workEmpty(t, b.js)
			mu.Lock()
			defer mu.Unlock()
			twice := 0
			for id := range ids {
				if runs[id] != 1 {
					twice++
					t.Errorf("task %s ran %d times, want 1", id, runs[id])
				}
			}
			if twice > 0 {
				t.Errorf("%d of %d tasks did not run exactly once", twice, n)
			}
		})
	}
}
