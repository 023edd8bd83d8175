package main

import (
	"context"
	"flag"
	"time"

	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/tasks"
)

// rate selects the rate-limit scenario's tasks.
var rate = flag.Bool("rate", false, "handle the rate-limit scenario's tasks (e2etask.RateTyped, RateKeyed, RateFree) instead of e2e.work")

// handleRate registers the rate-limit scenario's handlers, which log each
// start as
//
//	<task name> <task ID> <key or -> <start, Unix nanoseconds> <attempt>
func handleRate(reg *tasks.Registry, line func(format string, args ...any) error) {
	handle := func(_ context.Context, t *tasks.Task[e2etask.Payload]) error {
		at := time.Now().UnixNano()
		key := tasks.KeyOf(t.Header)
		if key == "" {
			key = "-"
		}
		return line("%s %s %s %d %d", t.Name, t.ID, key, at, t.Attempt)
	}
	tasks.MustHandle(reg, e2etask.RateTyped, handle)
	tasks.MustHandle(reg, e2etask.RateKeyed, handle)
	tasks.MustHandle(reg, e2etask.RateFree, handle)
}
