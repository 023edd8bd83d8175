package main

import (
	"context"
	"strconv"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/tasks"
)

// seqKey carries a delivery's work-stream sequence to the snooze handler.
type seqKey struct{}

// handleSnooze registers the snooze scenario's handler: it snoozes each
// task e2etask.Snoozes times for 100 ms, then writes
// "done <task ID> <seq> <snoozes> <attempt>" before it returns nil, seq
// being the work-stream message that finished the task. It returns the
// middleware that gives the handler that sequence.
func handleSnooze(reg *tasks.Registry, line func(format string, args ...any) error) consumer.Option {
	tasks.MustHandle(reg, e2etask.Snoozy, func(ctx context.Context, t *tasks.Task[e2etask.Payload]) error {
		n, _ := strconv.Atoi(t.Header.Get(tasks.HeaderSnoozed))
		if n < e2etask.Snoozes {
			return tasks.Snooze(e2etask.SnoozeFor)
		}
		return line("done %s %d %d %d", t.ID, ctx.Value(seqKey{}), n, t.Attempt)
	})
	return consumer.WithMiddleware(func(next tasks.Handler) tasks.Handler {
		return func(ctx context.Context, env *tasks.Envelope) error {
			return next(context.WithValue(ctx, seqKey{}, env.Sequence), env)
		}
	})
}
