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
// set, and the tasks it settled since it started. It lists each delivery it
// holds (task ID, stream sequence, attempt, and when its handler started:
// at most its concurrency plus its prefetch plus one a type) and each retry
// it set that is still to come (sequence, attempt, when it is due, the
// first line of its error; at most wire.MaxPresenceRetries, earliest due
// first, each dropped once due), and the type's rate limits and
// concurrency per key with the tasks it holds for their key's rate limit
// (inspect.Inspector.Limits reads them: only workers know a definition). That adds about 100 bytes a delivery held
// (a 22-character ID) and 165 a retry (with a 60-byte error) to each
// write: with 16 deliveries and 16 retries, 4.2 KiB every interval; at
// most 256 retries, 42 KiB. An entry that is not
// rewritten — the process died, or lost its connection — expires on the
// server; a worker that stops deletes its own, with a marker that expires
// a second later, so stops leave nothing behind.
// The inspect package reads the bucket: running is what live workers hold,
// and retrying what the server keeps unsettled and no live worker holds.

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
	"github.com/jetq/jetq/tasks"
)

// listed is j as its presence entry lists it: read from the delivery
// itself, which never changes, not from the envelope its runner fills.
func (j *job) listed(stream string) (wire.PresenceDelivery, bool) {
	md, err := j.msg.Metadata()
	if err != nil {
		return wire.PresenceDelivery{}, false
	}
	h := tasks.Header(j.msg.Headers())
	d := wire.PresenceDelivery{ID: wire.TaskID(h, stream, md.Sequence.Stream), Seq: md.Sequence.Stream,
		Attempt: wire.Attempt(h, md.NumDelivered)}
	if at := j.started.Load(); at != 0 {
		d.Started = time.Unix(0, at).UTC()
	}
	return d, true
}

// DefaultPresenceInterval is how often a worker rewrites its presence
// entry by default.
const DefaultPresenceInterval = 2 * time.Second

// WithPresenceInterval sets how often the worker rewrites its presence
// entry in the JETQ_WORKERS bucket, which the inspect package reads to tell
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
	retries map[*route][]wire.PresenceRetry // retries set, pruned as they fall due
}

func newPresence() *presence {
	host, _ := os.Hostname()
	return &presence{id: nuid.Next(), host: host, started: time.Now().UTC(), retries: map[*route][]wire.PresenceRetry{}}
}

// noteRetry notes that j's task settled as the retry o.
func (p *presence) noteRetry(j *job, o tasks.Outcome) {
	rt := wire.PresenceRetry{ID: j.env.ID, Seq: j.env.Sequence, Attempt: j.env.Attempt, At: time.Now().Add(o.Delay).UTC()}
	if o.Err != nil {
		rt.Error = wire.FirstLine(o.Err.Error(), wire.MaxPresenceError)
	}
	p.mu.Lock()
	p.retries[j.route] = append(p.retries[j.route], rt)
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
	listed := map[*route][]wire.PresenceDelivery{}
	for _, j := range w.hand.all() {
		if !j.state().listed() {
			continue // settled, on its way out of the hand
		}
		held[j.route]++
		if d, ok := j.listed(w.cfg.names.WorkStream()); ok {
			listed[j.route] = append(listed[j.route], d)
		}
	}
	running := map[*route]int{}
	for i := range w.running {
		if j := w.running[i].Load(); j != nil && j.state().running() {
			running[j.route]++
		}
	}
	entry := wire.Presence{ID: p.id, Host: p.host, PID: os.Getpid(), Started: p.started, Updated: now.UTC(), Every: every, Concurrency: w.cfg.concurrency}
	p.mu.Lock()
	var retries []*wire.PresenceRetry
	for _, r := range w.routes {
		due := slices.DeleteFunc(p.retries[r], func(rt wire.PresenceRetry) bool { return !rt.At.After(now) })
		p.retries[r] = due
		pt := wire.PresenceTask{Queue: r.spec.Queue, Task: r.spec.Name, Tracked: r.spec.TrackState, Retention: r.spec.Retention, Held: held[r], Running: running[r],
			Succeeded: r.done.succeeded.Load(), Failed: r.done.failed.Load(),
			DeadLettered: r.done.deadLettered.Load(), Expired: r.done.expired.Load(),
			Deliveries: listed[r], RateLimit: r.spec.RateLimit, KeyRateLimit: r.spec.KeyRateLimit, KeyConcurrency: r.spec.KeyConcurrency}
		if r.rates != nil {
			pt.KeyWaiting = int(r.rates.held.Load())
		}
		if len(due) > 0 {
			pt.Retrying = len(due)
			pt.NextRetryAt = slices.MinFunc(due, func(a, b wire.PresenceRetry) int { return a.At.Compare(b.At) }).At
			for i := range due {
				retries = append(retries, &due[i])
			}
		}
		entry.Tasks = append(entry.Tasks, pt)
	}
	// The earliest due, up to the bound, across the worker's task types.
	slices.SortFunc(retries, func(a, b *wire.PresenceRetry) int { return a.At.Compare(b.At) })
	keep := map[*wire.PresenceRetry]bool{}
	for _, rt := range retries[:min(len(retries), wire.MaxPresenceRetries)] {
		keep[rt] = true
	}
	for i, r := range w.routes {
		for k := range p.retries[r] {
			if rt := &p.retries[r][k]; keep[rt] {
				entry.Tasks[i].Retries = append(entry.Tasks[i].Retries, *rt)
			}
		}
		slices.SortFunc(entry.Tasks[i].Retries, func(a, b wire.PresenceRetry) int { return a.At.Compare(b.At) })
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
