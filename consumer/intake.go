package consumer

// How the worker takes tasks in.
//
// Every delivery is in the worker's own hands from the moment it arrives:
// queued for a runner, running, or having its record filed. The heartbeat
// tells the server about every one of them, so none is redelivered to
// another worker while this one holds it. What the worker asks the server
// for is bounded by credits: its slots, plus a prefetch, plus one per task
// type for an idle type's waiting pull. A credit is taken for each task a
// pull asks for and given back when the task is settled or the pull ends
// without it, so deliveries in hand and tasks asked for never exceed them.
//
// Pulls overlap: each task type's puller asks for the next batch once half
// of the current one has come, so runners do not wait for a round trip
// between batches. A batch waits for half the slots' worth of free credits
// and takes up to the slots and the prefetch: each pull is a subscription,
// a request and a goroutine in nats.go, and batches of up to twice the
// concurrency ran the no-op workload of go run ./bench about 20% faster
// over loopback TCP than batches of at most the concurrency. A batch pull
// lasts at most busyPullExpiry, so one that waits for tasks that will not
// come soon gives its credits back to the other types. An idle type keeps
// one pull for one task waiting; when a task comes, it asks for more. A
// pull that expires, fails or misses its heartbeats is simply made again:
// nothing waits unseen, so nothing needs a watchdog.

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
)

const (
	// pullExpiry bounds the pull an idle type keeps waiting for one task.
	pullExpiry = 5 * time.Second
	// busyPullExpiry bounds a pull for a batch while tasks flow. When the
	// backlog ends part-way through a batch, the credits held for the
	// tasks that do not come go back within it, to this type's next pull
	// and to the other types'. Such a pull has no heartbeat: it ends
	// before two could be missed.
	busyPullExpiry = time.Second
	// pullHeartbeat is how often the server says a pull request waits; two
	// missed ones end the pull, so one lost to a leader change or a frozen
	// server is made again within about two of them.
	pullHeartbeat = 500 * time.Millisecond
)

// credits bounds what the worker holds and asks for. Safe for concurrent use.
type credits struct {
	mu      sync.Mutex
	free    int
	waiting int           // takers waiting for credits
	changed chan struct{} // closed when credits come back to waiting takers
}

func newCredits(n int) *credits {
	return &credits{free: n, changed: make(chan struct{})}
}

// take waits until at least least credits are free, then takes up to most.
// It returns ctx's error if ctx ends first.
func (c *credits) take(ctx context.Context, least, most int) (int, error) {
	c.mu.Lock()
	for c.free < least {
		c.waiting++
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			c.mu.Lock()
			c.waiting--
			c.mu.Unlock()
			return 0, ctx.Err()
		case <-changed:
		}
		c.mu.Lock()
		c.waiting--
	}
	n := min(c.free, most)
	c.free -= n
	c.mu.Unlock()
	return n, nil
}

// give returns n credits.
func (c *credits) give(n int) {
	if n == 0 {
		return
	}
	c.mu.Lock()
	c.free += n
	if c.waiting > 0 {
		close(c.changed)
		c.changed = make(chan struct{})
	}
	c.mu.Unlock()
}

// batchEnd is how a pull ended: how many tasks it brought, and its error.
type batchEnd struct {
	got int
	err error
}

// pull keeps pulls for the route's tasks going until the worker stops,
// creating the route's durable consumer first and again when the server
// deletes it.
func (w *Worker) pull(r *route) {
	ctx := w.stopCtx
	var batches sync.WaitGroup
	defer batches.Wait()
	// At most a second between tries: pulls resume soon after a new
	// consumer leader is elected.
	bo := retry.New(100*time.Millisecond, time.Second, 0)
	var cons jetstream.Consumer
	idle, recovering := true, false
	for ctx.Err() == nil {
		if cons == nil {
			var err error
			if cons, err = w.ensureConsumer(ctx, r); err != nil {
				if !w.pullFailed(ctx, r, "jetq: cannot consume yet; retrying", err) || bo.Wait(ctx) != nil {
					return
				}
				recovering = true
				continue
			}
			if ci := cons.CachedInfo(); ci != nil {
				r.replicated.Store(ci.Cluster != nil && len(ci.Cluster.Replicas) > 0)
			}
			if recovering {
				w.logRoute(ctx, r, slog.LevelInfo, "jetq: consumer recovered")
				recovering = false
			}
		}
		most := w.cfg.concurrency + w.cfg.prefetch
		least := max(w.cfg.concurrency/2, 1)
		if idle {
			least, most = 1, 1
		}
		n, err := w.credits.take(ctx, least, most)
		if err != nil {
			return
		}
		expiry, opts := pullExpiry, []jetstream.FetchOpt{jetstream.FetchHeartbeat(pullHeartbeat)}
		if !idle {
			expiry, opts = busyPullExpiry, nil
		}
		fctx, cancel := context.WithTimeout(ctx, expiry)
		batch, err := cons.Fetch(n, append(opts, jetstream.FetchContext(fctx), jetstream.FetchPriorityGroup(wire.PriorityGroup))...)
		if err != nil {
			cancel()
			w.credits.give(n)
			if !w.pullFailed(ctx, r, "jetq: cannot pull; retrying", err) || bo.Wait(ctx) != nil {
				return
			}
			cons, recovering = nil, true
			continue
		}
		flowing, ended := make(chan struct{}), make(chan batchEnd, 1)
		batches.Go(func() {
			defer cancel()
			w.receive(r, batch, n, flowing, ended)
		})
		select {
		case <-flowing:
			idle = false // half of it has come: ask for more while the rest comes
			bo.Reset()
		case end := <-ended:
			idle = end.got == 0
			switch w.pullEnded(ctx, r, end.err) {
			case pullAgain:
				bo.Reset()
			case pullRecreate:
				cons, recovering = nil, true
			case pullBackOff:
				if bo.Wait(ctx) != nil {
					return
				}
			case pullStop:
				return
			}
		case <-ctx.Done():
		}
	}
}

// What a puller does after a pull ended.
type afterPull int

const (
	pullAgain    afterPull = iota // pull again now
	pullRecreate                  // create the consumer again, then pull
	pullBackOff                   // wait a little, then pull
	pullStop                      // the worker stops or the connection is gone
)

// pullEnded logs how a pull of route r ended, with err, and says what next.
func (w *Worker) pullEnded(ctx context.Context, r *route, err error) afterPull {
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return pullAgain
	case errors.Is(err, jetstream.ErrNoHeartbeat):
		w.logRoute(ctx, r, slog.LevelInfo, "jetq: pull lost its heartbeat; pulling again")
		return pullAgain
	case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound):
		w.logRoute(ctx, r, slog.LevelWarn, "jetq: consumer deleted on the server; recreating it")
		return pullRecreate
	case !w.pullFailed(ctx, r, "jetq: pull failed; retrying", err):
		return pullStop
	}
	return pullBackOff
}

// pullFailed logs a failed request of route r's puller. It reports whether
// the puller should go on: not once the worker stops or the connection is
// closed for good (which ends Run).
func (w *Worker) pullFailed(ctx context.Context, r *route, msg string, err error) bool {
	switch {
	case ctx.Err() != nil:
		return false
	case w.js.Conn().IsClosed():
		w.fail(ErrConnectionClosed)
		return false
	}
	level := slog.LevelWarn
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) {
		level = slog.LevelInfo // an election or a restart: the usual recovery
	}
	w.logRoute(ctx, r, level, msg, slog.String(keyError, err.Error()))
	return true
}

// receive takes the deliveries of one pull that asked for n tasks into the
// worker's hands, closes flowing once half of them have come, gives back
// the credits of those that did not come, and reports how the pull ended.
func (w *Worker) receive(r *route, batch jetstream.MessageBatch, n int, flowing chan<- struct{}, ended chan<- batchEnd) {
	got, half := 0, max(n/2, 1)
	for msg := range batch.Messages() {
		w.hold(r, msg)
		if got++; got == half {
			close(flowing)
		}
	}
	w.credits.give(n - got)
	ended <- batchEnd{got: got, err: batch.Error()}
}

// ensureConsumer creates or updates the route's durable consumer.
//
// A durable that exists and records another payload type (see
// [wire.MetaPayloadType]) means another service defines the same task name
// with a different payload, or a deploy changed the type: a warning names
// both types and the durable. The worker still serves the task, and its
// definition wins: the update records the worker's type and schema, the
// newest, and the warning is logged at each start while the two disagree.
func (w *Worker) ensureConsumer(ctx context.Context, r *route) (jetstream.Consumer, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream := w.cfg.topology.Names.WorkStream()
	if want := r.consumer.Metadata[wire.MetaPayloadType]; want != "" {
		if have, err := w.js.Consumer(cctx, stream, r.consumer.Durable); err == nil {
			if ci := have.CachedInfo(); ci != nil {
				if old := ci.Config.Metadata[wire.MetaPayloadType]; old != "" && old != want {
					w.logRoute(ctx, r, slog.LevelWarn, "jetq: task name collision: the durable consumer records another payload type; "+
						"another service may define this task with a different payload. Serving it anyway and recording this worker's type",
						slog.String(keyRecordedType, old), slog.String(keyPayloadType, want))
				}
			}
		}
	}
	return w.js.CreateOrUpdateConsumer(cctx, stream, r.consumer)
}

// Log attribute keys of a payload type collision, beside those of log.go.
const (
	keyPayloadType  = "payload_type"  // the worker's
	keyRecordedType = "recorded_type" // the durable's, recorded by another worker
)
