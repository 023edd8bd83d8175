package consumer

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// How long a task whose key is busy is set aside. Each key gets about as
// many looks a second per place from each worker as its type's tasks take
// to handle (one a second for each second a task takes), from keyLooks to
// keyLooksMax, however many of its tasks wait: a task waits about as long as the key's tasks waiting
// before it take to be looked at, so that a key with a long backlog does
// not flood the queue with its tasks coming back, and the other keys'
// tasks are looked at as often (round robin, in effect). The wait is from
// keyWaitMin to keyWaitMax.
const (
	keyWaitMin  = 100 * time.Millisecond
	keyWaitMax  = 10 * time.Minute
	keyLooks    = 20
	keyLooksMax = 100
)

// keyWindow is how often the worker estimates each busy key's backlog.
const keyWindow = time.Second

// keySlotTimeout bounds each request about a key's places.
const keySlotTimeout = 2 * time.Second

// keySlots are the places of keys (tasks.WithKeyConcurrency) that the
// worker's running tasks hold, in the bucket wire.KeySlotsBucketConfig:
// place i of key k of a task type is the bucket key wire.KeySlot, made by
// the task that takes it with compare-and-set (Create) and a TTL of its
// type's ack wait, renewed every third of it while the task is in the
// worker's hands, and purged when the worker lets the task go, whatever
// its outcome. A worker that dies stops renewing its places, and the
// server removes them within the ack wait, when its tasks come back too.
type keySlots struct {
	js     jetstream.JetStream
	bucket *provision.Bucket
	names  wire.Names

	mu   sync.Mutex
	held map[*job]*keyLease
	// mine counts the places held, by key (wire.KeySlots): a key of
	// which the worker holds every place is busy without asking.
	mine map[string]int
	// pace is, by key, how its busy tasks were set aside (keyWait).
	pace map[string]*keyPace
	// renewing starts the renewal loop with the first place taken.
	renewing sync.Once
}

// keyLease is one place a job holds.
type keyLease struct {
	key  string // its key's places (wire.KeySlots)
	name string // its key in the bucket
	val  []byte
	ttl  time.Duration

	mu   sync.Mutex // held over each write, so a renewal never lands after the purge
	rev  uint64
	gone bool
}

func newKeySlots(js jetstream.JetStream, cfg config) *keySlots {
	return &keySlots{
		js:     js,
		bucket: provision.NewBucket(js, wire.KeySlotsBucketConfig(cfg.topo)),
		names:  cfg.names,
		held:   map[*job]*keyLease{},
		mine:   map[string]int{},
		pace:   map[string]*keyPace{},
	}
}

// keyTTL is how long a place of r's tasks outlives its last renewal: the
// type's ack wait, in whole seconds (the server's TTLs are).
func keyTTL(r *route) time.Duration {
	return max(time.Second, (r.consumer.AckWait+time.Second-1)/time.Second*time.Second)
}

// keyPace is what the worker knows of the tasks of one key that found it
// busy: how many it set aside in the current window and the last, and for
// how long in all, from which it estimates the key's backlog by Little's
// law (tasks waiting = tasks set aside a second × their mean wait).
type keyPace struct {
	window time.Time // start of the current window
	n      int       // set aside in the current window
	sum    time.Duration
	bound  time.Duration // for the tasks set aside in the current window
}

// keyWait is how long a task of the key with places prefix (n places), of
// a type whose tasks take handling to handle, that found the key busy at
// now is set aside: a random point in the second
// half of a bound that is the key's estimated backlog over its looks a
// second, so that the key's tasks do not come back together.
func (k *keySlots) keyWait(prefix string, n int, handling time.Duration, now time.Time) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.pace[prefix]
	if p == nil || now.Sub(p.window) >= 2*keyWindow {
		if len(k.pace) >= maxPaces {
			k.prunePaces(now)
		}
		p = &keyPace{window: now, bound: keyWaitMin}
		k.pace[prefix] = p
	} else if now.Sub(p.window) >= keyWindow {
		mean := 0.0
		if p.n > 0 {
			mean = (p.sum / time.Duration(p.n)).Seconds()
		}
		backlog := float64(p.n) / keyWindow.Seconds() * mean // Little's law
		looks := float64(keyLooks)
		if handling > 0 {
			looks = min(keyLooksMax, max(keyLooks, float64(time.Second)/float64(handling)))
		}
		b := time.Duration(backlog / (looks * float64(n)) * float64(time.Second))
		*p = keyPace{window: now, bound: min(keyWaitMax, max(keyWaitMin, b))}
	}
	d := p.bound/2 + rand.N(p.bound/2+1)
	p.n++
	p.sum += d
	return d
}

// maxPaces bounds the keys whose pace the worker keeps; past it, those
// idle for two windows are forgotten.
const maxPaces = 10000

func (k *keySlots) prunePaces(now time.Time) {
	for key, p := range k.pace {
		if now.Sub(p.window) >= 2*keyWindow {
			delete(k.pace, key)
		}
	}
}

// keyBusy takes a place of the key of j's task for it, if its type has a
// concurrency per key, and reports false; or, when the key has its
// tasks.WithKeyConcurrency tasks running, or the place cannot be taken,
// sets the task aside (as tasks.Snooze does: no attempt spent) and reports
// true: j is settled and its handler is not to run. A malformed delivery
// takes no place: it runs no handler.
func (w *Worker) keyBusy(ctx context.Context, j *job) bool {
	if j.malformed != nil {
		return false
	}
	ok, err := w.keys.take(ctx, j)
	if ok {
		w.startRenewing()
		return false
	}
	r := j.route
	d := w.keys.keyWait(wire.KeySlots(r.spec, tasks.KeyOf(j.env.Header)), r.spec.KeyConcurrency,
		time.Duration(r.in.handling.Load()), time.Now())
	if err != nil {
		w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot take a place of the task's key; setting the task aside",
			slog.Duration(keyDelay, d), slog.String(keyError, err.Error()))
	} else {
		w.logTask(ctx, j, slog.LevelDebug, "jetq: the task's key is busy; setting the task aside", slog.Duration(keyDelay, d))
	}
	w.settle(ctx, j, tasks.Snooze(d), false)
	return true
}

// take takes a free place of the key of j's task, and reports whether
// there was one.
func (k *keySlots) take(ctx context.Context, j *job) (bool, error) {
	octx, cancel := context.WithTimeout(ctx, keySlotTimeout)
	kv, err := k.bucket.Open(octx, true)
	cancel()
	if err != nil {
		return false, err
	}
	r := j.route
	n := r.spec.KeyConcurrency
	key := wire.KeySlots(r.spec, tasks.KeyOf(j.env.Header))
	k.mu.Lock()
	all := k.mine[key] >= n
	k.mu.Unlock()
	if all {
		return false, nil
	}
	val := []byte(j.env.ID)
	ttl := keyTTL(r)
	first := rand.N(n) // spreads the tasks of a key over its places
	for i := range n {
		name := wire.KeySlot(key, (first+i)%n)
		cctx, cancel := context.WithTimeout(ctx, keySlotTimeout)
		rev, err := kv.Create(cctx, name, val, jetstream.KeyTTL(ttl))
		cancel()
		switch {
		case errors.Is(err, jetstream.ErrKeyExists):
			continue
		case err != nil:
			return false, err
		}
		k.mu.Lock()
		k.held[j] = &keyLease{key: key, name: name, val: val, ttl: ttl, rev: rev}
		k.mine[key]++
		k.mu.Unlock()
		return true, nil
	}
	return false, nil
}

// startRenewing starts, once, the loop that renews the worker's places
// until it has drained.
func (w *Worker) startRenewing() {
	w.keys.renewing.Do(func() {
		every := tasks.DefaultAckWait
		for _, r := range w.routes {
			if r.spec.KeyConcurrency > 0 {
				every = min(every, keyTTL(r))
			}
		}
		go w.renewKeys(every / 3)
	})
}

// renewKeys renews the places the worker holds every period.
func (w *Worker) renewKeys(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.drained:
			return
		case <-t.C:
		}
		w.keys.mu.Lock()
		leases := make([]*keyLease, 0, len(w.keys.held))
		for _, l := range w.keys.held {
			leases = append(leases, l)
		}
		w.keys.mu.Unlock()
		for _, l := range leases {
			if err := w.keys.renew(l); err != nil {
				w.log.LogAttrs(context.Background(), slog.LevelWarn, "jetq: cannot renew a running task's place of its key; "+
					"it lapses after its TTL", slog.String("place", l.name), slog.Duration("ttl", l.ttl), slog.String(keyError, err.Error()))
			}
		}
	}
}

// renew writes l again with its TTL, if it is still the last write of its
// place: a place that lapsed (the worker could not reach the server for
// its whole TTL) may be another task's now, and is left to it.
func (k *keySlots) renew(l *keyLease) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), keySlotTimeout)
	defer cancel()
	m := &nats.Msg{Subject: k.names.KeySlotSubject(l.name), Data: l.val}
	ack, err := k.js.PublishMsg(ctx, m, jetstream.WithMsgTTL(l.ttl), jetstream.WithExpectLastSequencePerSubject(l.rev))
	if err != nil {
		if provision.WrongLast(err) {
			l.gone = true // lost: not renewed or purged again
		}
		return err
	}
	l.rev = ack.Sequence
	return nil
}

// releaseKey gives back the place j holds, if any. A failure is logged: the
// place's TTL frees it then.
func (w *Worker) releaseKey(j *job) {
	k := w.keys
	k.mu.Lock()
	l := k.held[j]
	if l != nil {
		delete(k.held, j)
		if k.mine[l.key]--; k.mine[l.key] == 0 {
			delete(k.mine, l.key)
		}
	}
	k.mu.Unlock()
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone {
		return
	}
	l.gone = true
	ctx, cancel := context.WithTimeout(context.Background(), keySlotTimeout)
	defer cancel()
	kv, err := k.bucket.Open(ctx, true)
	if err == nil {
		err = kv.Purge(ctx, l.name, jetstream.LastRevision(l.rev), jetstream.PurgeTTL(time.Second))
	}
	if err != nil && !provision.WrongLast(err) {
		w.logTask(context.Background(), j, slog.LevelWarn, "jetq: cannot give back the task's place of its key; its TTL will",
			slog.String("place", l.name), slog.Duration("ttl", l.ttl), slog.String(keyError, err.Error()))
	}
}
