package forwarder

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// follow runs the follow-ups (callbacks, workflow bookkeeping) of the task
// raw, dead-lettered as adv says because reason, before it is deleted: an
// error leaves the event to be handled again, follow-ups included.
func (f *Forwarder) follow(ctx context.Context, raw *jetstream.RawStreamMsg, adv advisory, queue, name, reason string) error {
	h := tasks.Header(raw.Header)
	if !flow.Has(h) {
		return nil
	}
	env := &tasks.Envelope{
		ID: wire.TaskID(h, adv.Stream, adv.StreamSeq), Name: name, Queue: queue, Subject: raw.Subject,
		Header: h, Body: raw.Data, Attempt: adv.Deliveries, Stream: adv.Stream, Sequence: adv.StreamSeq,
	}
	err := f.cfg.Flow.After(ctx, flow.Settlement{
		Env: env, State: status.DeadLettered, Reason: tasks.ReasonMaxDeliveries, Error: reason,
		Attempts: adv.Deliveries, At: time.Now(),
	})
	if err != nil {
		return fmt.Errorf("follow-ups of task %s: %w", env.ID, err)
	}
	return nil
}
