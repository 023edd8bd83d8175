package consumer

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/pausing"
	"github.com/jetq/jetq/internal/retry"
)

// createPaused creates or updates route r's durable consumer so that a
// pause holds (inspect.Inspector.Pause; internal/pausing). The server keeps
// an existing consumer's PauseUntil, whatever the update asks. Once the
// consumer exists, before the worker pulls for it, the pauses recorded
// over it are read and the consumer paused if they say so: a new task type
// of a paused queue is paused before any worker takes its tasks (every
// worker creates the consumer before it pulls), and so is a consumer a
// pause made during its creation missed.
//
// When the pauses cannot be read for good (the worker may not read the
// bucket) the worker serves the type as the server has it, which still
// holds every pause made on an existing consumer, and logs it. A failure
// that may pass (an election, a timeout) fails the creation, which is
// tried again.
func (w *Worker) createPaused(ctx context.Context, stream string, r *route) (jetstream.Consumer, error) {
	cons, err := w.js.CreateOrUpdateConsumer(ctx, stream, r.consumer)
	if err != nil {
		return nil, err
	}
	if _, err := w.pauses.Apply(ctx, r.spec.Queue, r.spec.Name, pausing.HoldOnly); err != nil {
		if retry.Transient(err) {
			return nil, err
		}
		w.logRoute(ctx, r, slog.LevelWarn, "jetq: cannot read the pauses; serving the task type as the server has it", slog.String(keyError, err.Error()))
	}
	return cons, nil
}
