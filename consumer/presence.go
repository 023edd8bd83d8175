package consumer

// Presence: what the server cannot tell.
//
// A consumer's NumAckPending counts every delivery not yet settled: the
// ones a handler runs, but also the ones waiting out a retry backoff
// (NakWithDelay keeps them pending) and the ones of a worker that died,
// until their ack wait expires. The server lists none of them. So each
// worker keeps an entry in the bucket JETQ_WORKERS, key its ID, rewritten
// every presence interval with a TTL of three intervals: per task type,
// the deliveries it holds, the handlers it runs and the earliest retry it
// set, and the tasks it settled since it started. An entry that is not
// rewritten — the process died, or lost its connection — expires on the
// server; a worker that stops deletes its own, with a marker that expires
// a second later, so stops leave nothing behind.
// The queues package reads the bucket: running is what live workers hold.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
)

// DefaultPresenceInterval is how often a worker rewrites its presence
// entry by default.
const DefaultPresenceInterval = 2 * time.Second

// WithPresenceInterval sets how often the worker rewrites its presence
// entry in the JETQ_WORKERS bucket, which the queues package reads to tell
// running tasks from tasks waiting out a retry backoff. An entry lives
// three intervals (at least a second), so a worker that died stops counting
// as running that long after its last write. Default
// [DefaultPresenceInterval]; it must be at least 100 ms.
func WithPresenceInterval(d time.Duration) Option {
	return func(c *config) { c.presenceEvery = d }
}

// presence is the worker's presence entry and the retries it set.
type presence struct {
	id      string
	host    string
	started time.Time

	mu      sync.Mutex
	retries map[*route][]time.Time // retry times set, pruned as they pass
}

func newPresence() *presence {
	host, _ := os.Hostname()
	return &presence{id: nuid.Next(), host: host, started: time.Now().UTC(), retries: map[*route][]time.Time{}}
}

// noteRetry notes that a task of route r settled as a retry, due again
// after delay.
func (p *presence) noteRetry(r *route, delay time.Duration) {
	p.mu.Lock()
	p.retries[r] = append(p.retries[r], time.Now().Add(delay))
	p.mu.Unlock()
}

// announce keeps the worker's presence entry until the worker has drained,
// then deletes it. A bucket it cannot create (a server older than 2.11)
// is logged once and tried again each interval; tasks run regardless.
func (w *Worker) announce() {
	every := w.cfg.presenceEvery
	ttl := wire.PresenceTTL(every)
	t := time.NewTicker(every)
	defer t.Stop()
	var kv jetstream.KeyValue
	warned := false
	for {
		if kv == nil {
			var err error
			if kv, err = w.presenceBucket(); err != nil && !warned {
				warned = true
				w.log.LogAttrs(w.stopCtx, slog.LevelWarn, "jetq: cannot keep worker presence; jetq queues will not tell running tasks from retrying ones",
					slog.String(keyError, err.Error()))
			}
			if kv != nil {
				w.sweepPresence(kv)
			}
		}
		if kv != nil {
			w.writePresence(every, ttl)
		}
		select {
		case <-w.drained:
			if kv != nil && !w.js.Conn().IsClosed() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				// The purge's marker lives a second, like the key's own:
				// a stop leaves nothing behind.
				if err := kv.Purge(ctx, w.presence.id, jetstream.PurgeTTL(time.Second)); err != nil {
					w.log.LogAttrs(ctx, slog.LevelDebug, "jetq: cannot delete worker presence; its TTL will", slog.String(keyError, err.Error()))
				}
				cancel()
			}
			return
		case <-t.C:
		}
	}
}

// staleMarkerAge is the age past which sweepPresence removes a marker: no
// live worker's entry is a marker that long.
var staleMarkerAge = 30 * time.Minute

// sweepPresence removes the markers that the stops of older releases left
// for good in kv, one per stop (a purge without a TTL), once they are
// staleMarkerAge old. It is kv.PurgeDeletes bounded by a ctx: that one
// waits for its watch without one, and a connection closed meanwhile would
// hold the worker's presence up for good.
func (w *Worker) sweepPresence(kv jetstream.KeyValue) {
	ctx, cancel := context.WithTimeout(w.baseCtx, 5*time.Second)
	defer cancel()
	watch, err := kv.WatchAll(ctx, jetstream.MetaOnly())
	if err != nil {
		return // tried again at the next start
	}
	defer func() { _ = watch.Stop() }()
	var stale []string
	for caughtUp := false; !caughtUp; {
		select {
		case <-ctx.Done():
			return
		case e := <-watch.Updates():
			if e == nil {
				caughtUp = true // nil: every key's latest entry was sent
				continue
			}
			if op := e.Operation(); op != jetstream.KeyValuePut && time.Since(e.Created()) >= staleMarkerAge {
				stale = append(stale, e.Key())
			}
		}
	}
	if len(stale) == 0 {
		return
	}
	s, err := w.js.Stream(ctx, "KV_"+w.cfg.names.WorkersBucket())
	if err != nil {
		return
	}
	for _, key := range stale {
		if err := s.Purge(ctx, jetstream.WithPurgeSubject(w.cfg.names.PresenceSubject(key))); err != nil {
			w.log.LogAttrs(ctx, slog.LevelDebug, "jetq: cannot sweep old worker presence markers", slog.String(keyError, err.Error()))
			return
		}
	}
}

func (w *Worker) presenceBucket() (jetstream.KeyValue, error) {
	ctx, cancel := context.WithTimeout(w.baseCtx, 5*time.Second)
	defer cancel()
	kv, err := provision.NewBucket(w.js, wire.WorkersBucketConfig(w.cfg.topo)).Open(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("presence bucket %s: %w", w.cfg.names.WorkersBucket(), err)
	}
	return kv, nil
}

// writePresence writes the worker's entry as of now, with ttl.
func (w *Worker) writePresence(every, ttl time.Duration) {
	now := time.Now()
	p := w.presence
	held := map[*route]int{}
	for _, j := range w.hand.all() {
		if j.settled() && !j.filing.Load() && !j.confirming.Load() {
			continue // settled, on its way out of the hand
		}
		held[j.route]++
	}
	running := map[*route]int{}
	for i := range w.running {
		if j := w.running[i].Load(); j != nil && !j.settled() {
			running[j.route]++
		}
	}
	entry := wire.Presence{ID: p.id, Host: p.host, PID: os.Getpid(), Started: p.started, Updated: now.UTC(), Every: every, Concurrency: w.cfg.concurrency}
	p.mu.Lock()
	for _, r := range w.routes {
		due := slices.DeleteFunc(p.retries[r], func(at time.Time) bool { return !at.After(now) })
		p.retries[r] = due
		pt := wire.PresenceTask{Queue: r.spec.Queue, Task: r.spec.Name, Held: held[r], Running: running[r],
			Succeeded: r.done.succeeded.Load(), Failed: r.done.failed.Load(),
			DeadLettered: r.done.deadLettered.Load(), Expired: r.done.expired.Load()}
		if len(due) > 0 {
			pt.Retrying = len(due)
			pt.NextRetryAt = slices.MinFunc(due, time.Time.Compare).UTC()
		}
		entry.Tasks = append(entry.Tasks, pt)
	}
	p.mu.Unlock()
	data, err := json.Marshal(entry)
	if err != nil {
		return
	}
	msg := &nats.Msg{Subject: w.cfg.names.PresenceSubject(p.id), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgTTLHeader, wire.PresenceTTLHeader(ttl))
	ctx, cancel := context.WithTimeout(context.Background(), every)
	defer cancel()
	if _, err := w.js.PublishMsg(ctx, msg); err != nil && !w.js.Conn().IsClosed() {
		w.log.LogAttrs(ctx, slog.LevelDebug, "jetq: cannot write worker presence", slog.String(keyError, err.Error()))
	}
}
