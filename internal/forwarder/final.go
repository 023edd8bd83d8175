package forwarder

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// recordFinal records that task id, stored as raw, was dead-lettered with
// reason max_deliveries: for a task type that keeps its final outcome
// (tasks.WithRetention) a final record, whether or not the task had a
// record; for other types an update of a tracked task's record.
func (f *Forwarder) recordFinal(ctx context.Context, adv advisory, raw *jetstream.RawStreamMsg, id, reason string) error {
	if f.states == nil {
		return nil
	}
	from := func() status.Status {
		env := &tasks.Envelope{ID: id, Header: tasks.Header(raw.Header), EnqueuedAt: raw.Time.UTC()}
		env.Queue, env.Name, _ = f.names.ParseTaskSubject(raw.Subject)
		if at, err := wire.ParseTime(env.Header.Get(wire.HeaderEnqueuedAt)); err == nil {
			env.EnqueuedAt = at
		}
		return statusstore.Of(env)
	}
	return f.states.SettleFinal(ctx, adv.Consumer, id, from, func(st *status.Status) {
		st.State, st.Reason, st.Error = status.DeadLettered, tasks.ReasonMaxDeliveries, reason
		st.Attempt = adv.Deliveries
	})
}
