package forwarder

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
)

// Why the forwarder pulls from every task type's durable.
//
// nats-server (v2.15.2, server/consumer.go) notices that a task's last
// delivery went unacknowledged only when it looks for the next message to
// deliver, and for MaxDeliver ≥ 2 it looks only while a pull request waits:
// checkPending's own test (hasMaxDeliveries) counts redeliveries, one short
// of the deliveries. With no worker of the type pulling (all of them died,
// or the type was retired), a task whose worker died on its last attempt
// would get no max-deliveries advisory and stay in the work stream.
//
// So the forwarder keeps a pull waiting on each durable of the work stream
// that is in [wire.PriorityGroup], one that can never take a task: under the
// overflow policy it asks for a task only when more than minPending wait.
// Its presence is enough for the server to look, find the exhausted task
// and publish the advisory, which the forwarder files as for any other.

const (
	// minPending is more tasks than a stream can hold.
	minPending = 1 << 50
	// sentinelWait is how long each waiting pull lasts before the next.
	sentinelWait = 30 * time.Second
	// scanEvery is how often the durables of the work stream are listed.
	scanEvery = 5 * time.Second
)

// sentinels keeps a waiting pull on every durable of the work stream in
// jetq's priority group until ctx ends.
func (f *Forwarder) sentinels(ctx context.Context) {
	running := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	defer func() {
		for _, stop := range running {
			stop()
		}
		wg.Wait()
	}()
	t := time.NewTicker(scanEvery)
	defer t.Stop()
	for {
		if names, err := f.durables(ctx); err == nil {
			for name, stop := range running {
				if !slices.Contains(names, name) {
					stop()
					delete(running, name)
				}
			}
			for _, name := range names {
				if running[name] == nil {
					sctx, stop := context.WithCancel(ctx)
					running[name] = stop
					wg.Go(func() { f.sentinel(sctx, name) })
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// durables lists the durables of the work stream in jetq's priority group.
func (f *Forwarder) durables(ctx context.Context) ([]string, error) {
	rctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	s, err := f.js.Stream(rctx, f.names.WorkStream())
	if err != nil {
		return nil, err
	}
	var names []string
	l := s.ListConsumers(rctx)
	for info := range l.Info() {
		if slices.Contains(info.Config.PriorityGroups, wire.PriorityGroup) {
			names = append(names, info.Name)
		}
	}
	return names, l.Err()
}

// sentinel keeps one pull that takes no task waiting on the durable name
// until ctx ends or the durable is gone.
func (f *Forwarder) sentinel(ctx context.Context, name string) {
	bo := retry.New(200*time.Millisecond, 5*time.Second, 0)
	var cons jetstream.Consumer
	for ctx.Err() == nil {
		var err error
		if cons == nil {
			rctx, cancel := context.WithTimeout(ctx, opTimeout)
			cons, err = f.js.Consumer(rctx, f.names.WorkStream(), name)
			cancel()
		}
		if err == nil {
			err = f.wait(ctx, cons)
		}
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrConsumerDeleted):
			return // the scan starts a new one if it comes back
		case err != nil:
			f.log.LogAttrs(ctx, slog.LevelDebug, "jetq: forwarder's waiting pull failed; pulling again",
				slog.String(keyConsumer, name), slog.String(keyError, err.Error()))
			cons = nil
			if bo.Wait(ctx) != nil {
				return
			}
			continue
		}
		bo.Reset()
	}
}

// wait holds one pull that takes no task on cons for sentinelWait.
func (f *Forwarder) wait(ctx context.Context, cons jetstream.Consumer) error {
	fctx, cancel := context.WithTimeout(ctx, sentinelWait)
	defer cancel()
	batch, err := cons.Fetch(1, jetstream.FetchContext(fctx),
		jetstream.FetchPriorityGroup(wire.PriorityGroup), jetstream.FetchMinPending(minPending))
	if err != nil {
		return err
	}
	for m := range batch.Messages() {
		_ = m.Nak() // more than minPending tasks wait: hand it straight back
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoMessages) {
		return err
	}
	return nil
}
