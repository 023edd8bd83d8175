package consumer

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/pausing"
	"github.com/jetq/jetq/internal/retry"
)

// createPaused creates or updates route r's durable consumer so that a
// pause holds (inspect.Inspector.Pause; internal/pausing). A new consumer
// is created paused when a pause of its type, its queue or every queue is
// recorded; the server keeps an existing consumer's PauseUntil, whatever
// the update asks. A pause made while the consumer was being created may
// have missed it, so the records are read again once it exists, and the
// consumer paused if they say so, before the worker pulls for it.
//
// The records cannot be read when the worker may not read the bucket: the
// worker then serves the type as without the check (logged), and pauses
// made on existing consumers still hold, on the server. Other failures
// (an election, a timeout) fail the creation, which is tried again.
func (w *Worker) createPaused(ctx context.Context, stream string, r *route) (jetstream.Consumer, error) {
	cfg := r.consumer
	q, t := r.spec.Queue, r.spec.Name
	until, err := w.pauses.Until(ctx, q, t)
	switch {
	case err == nil:
		if !until.IsZero() {
			cfg.PauseUntil = &until
		}
	case retry.Transient(err):
		return nil, err
	default:
		w.logRoute(ctx, r, slog.LevelWarn, "jetq: cannot read the pauses; serving the task type without them", slog.String(keyError, err.Error()))
		return w.js.CreateOrUpdateConsumer(ctx, stream, cfg)
	}
	cons, err := w.js.CreateOrUpdateConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := w.pauses.Apply(ctx, q, t, pausing.HoldOnly); err != nil {
		if retry.Transient(err) {
			return nil, err
		}
		w.logRoute(ctx, r, slog.LevelWarn, "jetq: cannot apply the pauses; serving the task type as the server has it", slog.String(keyError, err.Error()))
	}
	return cons, nil
}
