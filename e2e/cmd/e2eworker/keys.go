package main

import (
	"context"
	"flag"
	"time"

	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/tasks"
)

// keys selects the per-key concurrency scenario's tasks.
var keys = flag.Bool("keys", false, "handle the per-key concurrency scenario's tasks (e2etask.KeyOne, KeyTwo) instead of e2e.work")

// handleKeys registers the per-key concurrency scenario's handlers, which
// work for the payload's milliseconds and log each run's start and end as
//
//	start <task name> <task ID> <key> <Unix nanoseconds> <attempt>
//	end <task name> <task ID> <key> <Unix nanoseconds> <attempt>
//
// each written before the next step (the file is not buffered), so that a
// process killed mid-task leaves the start of its task without an end.
func handleKeys(reg *tasks.Registry, line func(format string, args ...any) error) {
	handle := func(ctx context.Context, t *tasks.Task[e2etask.Payload]) error {
		key := tasks.KeyOf(t.Header)
		if err := line("start %s %s %s %d %d", t.Name, t.ID, key, time.Now().UnixNano(), t.Attempt); err != nil {
			return err
		}
		if err := work(ctx, t.Payload.WorkMillis); err != nil {
			return err
		}
		return line("end %s %s %s %d %d", t.Name, t.ID, key, time.Now().UnixNano(), t.Attempt)
	}
	tasks.MustHandle(reg, e2etask.KeyOne, handle)
	tasks.MustHandle(reg, e2etask.KeyTwo, handle)
}
