package main

import (
	"context"
	"time"

	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/tasks"
)

// handleCancel registers the handler of the cancel scenario's task,
// e2etask.Cancellable, which logs each step with line (see the package doc).
func handleCancel(reg *tasks.Registry, line func(format string, args ...any) error) {
	tasks.MustHandle(reg, e2etask.Cancellable, func(ctx context.Context, t *tasks.Task[e2etask.CancelArgs]) error {
		if err := line("start %s %d %d", t.ID, t.Attempt, time.Now().UnixNano()); err != nil {
			return err
		}
		if t.Payload.Mode == e2etask.Quick {
			return nil
		}
		<-ctx.Done()
		_ = line("ctxdone %s %d %v", t.ID, time.Now().UnixNano(), context.Cause(ctx))
		if t.Payload.Mode == e2etask.IgnoreCtx {
			select {} // until the process dies
		}
		return ctx.Err()
	})
}
