package forwarder

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// recordFinal records that task id, stored as raw, was dead-lettered with
// reason max_deliveries: for a task type that keeps its final outcome
// (tasks.WithRetention, which its durable's metadata records) a final
// record with the retention's TTL, whether or not the task had a record;
// for other types an update of a tracked task's record, if there is one.
func (f *Forwarder) recordFinal(ctx context.Context, adv advisory, raw *jetstream.RawStreamMsg, id, reason string) error {
	if f.states == nil {
		return nil
	}
	change := func(st *status.Status) {
		st.State, st.Reason, st.Error = status.DeadLettered, tasks.ReasonMaxDeliveries, reason
		st.Attempt = adv.Deliveries
	}
	keep, err := f.retention(ctx, adv.Consumer)
	if err != nil {
		return err
	}
	if keep <= 0 {
		return f.states.Settle(ctx, id, change)
	}
	st, _, err := f.states.Read(ctx, id)
	if errors.Is(err, status.ErrNotFound) {
		env := &tasks.Envelope{ID: id, Header: tasks.Header(raw.Header), EnqueuedAt: raw.Time.UTC()}
		env.Queue, env.Name, _ = f.names.ParseTaskSubject(raw.Subject)
		if at, perr := wire.ParseTime(env.Header.Get(wire.HeaderEnqueuedAt)); perr == nil {
			env.EnqueuedAt = at
		}
		st, err = statusstore.Of(env), nil
	}
	if err != nil {
		return err
	}
	change(&st)
	st.NextAttemptAt, st.FinishedAt = time.Time{}, time.Now().UTC()
	return f.states.Final(ctx, st, keep)
}

// retention is the retention the durable consumer of a task type records
// (wire.MetaRetention), 0 for none or for a durable that is gone.
func (f *Forwarder) retention(ctx context.Context, durable string) (time.Duration, error) {
	if durable == "" {
		return 0, nil
	}
	c, err := f.js.Consumer(ctx, f.names.WorkStream(), durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	d, _ := time.ParseDuration(c.CachedInfo().Config.Metadata[wire.MetaRetention])
	return max(d, 0), nil
}
