package consumer

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// How long a task whose key is busy is set aside. The tasks of a busy key
// that a worker sets aside come back one after the other, each in the
// next free moment of the key's schedule: as many a second per place as
// its type's tasks take to handle (one a second for each second a task
// takes), from keyLooks to keyLooksMax, however many of its tasks wait. So
// a key with a long backlog comes back at a steady pace, as fast as its
// places can run its tasks, rather than all at once, and every busy key is
// looked at as often (round robin, in effect); a task waits about as long
// as the key's tasks set aside before it take to come back, from
// keyWaitMin to keyWaitMax.
const (
	keyWaitMin  = 100 * time.Millisecond
	keyWaitMax  = 10 * time.Minute
	keyLooks    = 20
	keyLooksMax = 200
)

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

	// waits are, by key (wire.KeySlots), the tasks the worker holds until
	// a place of their key frees, oldest first; waiting counts them.
	waits   map[string][]keyHold
	waiting int
	// frees counts the places freed that the watch saw: a task that found
	// its key busy before one freed takes a place again rather than wait.
	frees uint64
	// stopping is set at a stop: no task is held from then on.
	stopping bool
	// watching starts the watch of freed places and the loop that sets
	// aside tasks held too long, with the first task whose key is busy.
	watching sync.Once
	watchErr error
	// wakes counts the tasks woken on their way to the runners, which a
	// stop waits for.
	wakes sync.WaitGroup
}

// keyHold is a task held until a place of its key frees.
type keyHold struct {
	j     *job
	since time.Time
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
	// sent is when the last write that made or renewed the place was sent:
	// the server keeps the place until at least sent + ttl.
	sent time.Time
}

func newKeySlots(js jetstream.JetStream, cfg config) *keySlots {
	return &keySlots{
		js:     js,
		bucket: provision.NewBucket(js, wire.KeySlotsBucketConfig(cfg.topo)),
		names:  cfg.names,
		held:   map[*job]*keyLease{},
		mine:   map[string]int{},
		pace:   map[string]*keyPace{},
		waits:  map[string][]keyHold{},
	}
}

// keyTTL is how long a place of r's tasks outlives its last renewal: the
// type's ack wait, in whole seconds (the server's TTLs are).
func keyTTL(r *route) time.Duration {
	return max(time.Second, (r.consumer.AckWait+time.Second-1)/time.Second*time.Second)
}

// keyPace is the schedule of the tasks of one key that found it busy:
// when the next one set aside comes back.
type keyPace struct {
	next time.Time
	// best is the shortest handling time of the key's type seen while the
	// key was busy: a burst of set-asides keeps the server busy and the
	// handling time, which includes the acknowledgement, high.
	best time.Duration
}

// keyWait is how long a task of the key with places prefix (n places), of
// a type whose tasks take handling to handle, that found the key busy at
// now is set aside: until the next free moment of the key's schedule.
func (k *keySlots) keyWait(prefix string, n int, handling time.Duration, now time.Time) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.pace[prefix]
	if p == nil {
		if len(k.pace) >= maxPaces {
			k.prunePaces(now)
		}
		p = &keyPace{}
		k.pace[prefix] = p
	}
	if handling > 0 && (p.best == 0 || handling < p.best) {
		p.best = handling
	}
	looks := float64(keyLooksMax) // until a task of the type has finished
	if p.best > 0 {
		looks = min(keyLooksMax, max(keyLooks, float64(time.Second)/float64(p.best)))
	}
	step := time.Duration(float64(time.Second) / (looks * float64(n)))
	at := now.Add(keyWaitMin)
	if p.next.After(at) {
		at = p.next
	}
	p.next = at.Add(step)
	return min(keyWaitMax, at.Sub(now))
}

// maxPaces bounds the keys whose pace the worker keeps; past it, those
// whose schedule is past are forgotten.
const maxPaces = 10000

func (k *keySlots) prunePaces(now time.Time) {
	for key, p := range k.pace {
		if p.next.Before(now) {
			delete(k.pace, key)
		}
	}
}

// keyVerdict is what becomes of a task of a type with a concurrency per
// key before its handler: it runs, it is held until a place of its key
// frees, or it is set aside.
type keyVerdict int

const (
	keyRun keyVerdict = iota
	keyHeld
	keySetAside
)

// keyBusy takes a place of the key of j's task for it, if its type has a
// concurrency per key, and reports keyRun. When the key has its
// tasks.WithKeyConcurrency tasks running, the worker holds the task (out
// of the intake's count, holding no slot, heartbeated as every delivery
// in hand) until a place of its key frees, and reports keyHeld: j is no
// longer the runner's. A task that cannot be held (the key or the worker
// holds as many as it may, or the worker stops), or whose place cannot be
// taken, is set aside (as tasks.Snooze does: no attempt spent), and
// keyBusy reports keySetAside: j is settled and its handler is not to
// run. A malformed delivery takes no place: it runs no handler.
func (w *Worker) keyBusy(ctx context.Context, j *job) keyVerdict {
	if j.malformed != nil {
		return keyRun
	}
	k := w.keys
	k.watching.Do(func() { k.watchErr = w.watchKeys() })
	r := j.route
	n := r.spec.KeyConcurrency
	prefix := wire.KeySlots(r.spec, tasks.KeyOf(j.env.Header))
	var err error
	for range 3 {
		k.mu.Lock()
		frees := k.frees
		k.mu.Unlock()
		var ok bool
		if ok, err = k.take(ctx, j); ok {
			w.startRenewing()
			return keyRun
		}
		if err != nil || k.watchErr != nil {
			break
		}
		switch k.hold(prefix, n, j, frees, time.Now()) {
		case holdHeld:
			w.released() // out of the intake's count: the worker pulls on
			return keyHeld
		case holdFull:
		default: // a place freed meanwhile: take it
			continue
		}
		break
	}
	d := k.keyWait(prefix, n, time.Duration(r.in.handling.Load()), time.Now())
	if err != nil {
		w.logTask(ctx, j, slog.LevelWarn, "jetq: cannot take a place of the task's key; setting the task aside",
			slog.Duration(keyDelay, d), slog.String(keyError, err.Error()))
	} else {
		w.logTask(ctx, j, slog.LevelDebug, "jetq: the task's key is busy; setting the task aside", slog.Duration(keyDelay, d))
	}
	w.settle(ctx, j, tasks.Snooze(d), false)
	return keySetAside
}

// How many tasks a worker holds for their key: keyHeldPerPlace for each
// of a key's places, and keyHeldMax in all. Each costs the server an
// acknowledgement pending and a heartbeat every third of its ack wait,
// and none holds a slot. A task held keyHoldFor without a place is set
// aside: the key's places are another worker's, which hands them to its
// own tasks of the key.
const (
	keyHeldPerPlace = 32
	keyHeldMax      = 256
	keyHoldFor      = 2 * time.Second
)

// holdResult is what hold did with a task.
type holdResult int

const (
	holdHeld  holdResult = iota
	holdFull             // not held: the key or the worker holds enough
	holdFreed            // not held: a place freed since frees was read
)

// hold holds j, a task of the key with places prefix (n places) that
// found its key busy after the watch had seen frees places freed.
func (k *keySlots) hold(prefix string, n int, j *job, frees uint64, now time.Time) holdResult {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.frees != frees:
		return holdFreed
	case k.stopping, k.waiting >= keyHeldMax, len(k.waits[prefix]) >= keyHeldPerPlace*n:
		return holdFull
	}
	k.waits[prefix] = append(k.waits[prefix], keyHold{j: j, since: now})
	k.waiting++
	return holdHeld
}

// next takes the oldest task held for the key with places prefix, or nil.
// Called with k.mu held.
func (k *keySlots) next(prefix string) *job {
	q := k.waits[prefix]
	if len(q) == 0 {
		return nil
	}
	j := q[0].j
	if len(q) == 1 {
		delete(k.waits, prefix)
	} else {
		k.waits[prefix] = q[1:]
	}
	k.waiting--
	return j
}

// take takes a free place of the key of j's task, and reports whether
// there was one. A task a place was handed to (releaseKey) has it already.
func (k *keySlots) take(ctx context.Context, j *job) (bool, error) {
	r := j.route
	n := r.spec.KeyConcurrency
	key := wire.KeySlots(r.spec, tasks.KeyOf(j.env.Header))
	k.mu.Lock()
	_, has := k.held[j]
	all := k.mine[key] >= n
	k.mu.Unlock()
	if has {
		return true, nil
	}
	if all {
		return false, nil
	}
	octx, cancel := context.WithTimeout(ctx, keySlotTimeout)
	kv, err := k.bucket.Open(octx, true)
	cancel()
	if err != nil {
		return false, err
	}
	val := []byte(j.env.ID)
	ttl := keyTTL(r)
	first := rand.N(n) // spreads the tasks of a key over its places
	for i := range n {
		name := wire.KeySlot(key, (first+i)%n)
		sent := time.Now()
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
		k.held[j] = &keyLease{key: key, name: name, val: val, ttl: ttl, rev: rev, sent: sent}
		k.mine[key]++
		k.mu.Unlock()
		return true, nil
	}
	return false, nil
}

// watchKeys watches the places of the worker's types with a concurrency
// per key, and wakes a task held for its key when a place of the key is
// given back or lapses (a purge or the server's marker of an expired
// TTL); and starts the loop that sets aside the tasks held too long. An
// error leaves the worker setting aside every task whose key is busy, as
// it did before holding any.
func (w *Worker) watchKeys() error {
	k := w.keys
	ctx, cancel := context.WithTimeout(w.baseCtx, keySlotTimeout)
	defer cancel()
	kv, err := k.bucket.Open(ctx, true)
	if err != nil {
		return err
	}
	var filters []string
	for _, r := range w.routes {
		if r.spec.KeyConcurrency > 0 {
			filters = append(filters, r.spec.Queue+"."+r.spec.Name+".>")
		}
	}
	wctx, stop := context.WithCancel(context.WithoutCancel(w.baseCtx))
	watcher, err := kv.WatchFiltered(wctx, filters, jetstream.UpdatesOnly())
	if err != nil {
		stop()
		return err
	}
	go func() {
		defer stop()
		t := time.NewTicker(keyHoldFor / 4)
		defer t.Stop()
		for {
			select {
			case <-w.drained:
				_ = watcher.Stop()
				return
			case e := <-watcher.Updates():
				if e == nil {
					continue
				}
				if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
					w.keyFreed(e.Key())
				}
			case now := <-t.C:
				w.setAsideHeld(func(h keyHold) bool { return now.Sub(h.since) >= keyHoldFor })
			}
		}
	}()
	return nil
}

// keyFreed wakes the oldest task held for the key of place: it goes back
// to the runners, which take a place for it (another worker's task may
// take it first: then it is held again).
func (w *Worker) keyFreed(place string) {
	i := strings.LastIndexByte(place, '.')
	if i < 0 {
		return
	}
	k := w.keys
	k.mu.Lock()
	k.frees++
	j := k.next(place[:i])
	if j != nil {
		k.wakes.Add(1)
	}
	k.mu.Unlock()
	if j != nil {
		w.unholdKey()
		w.queue <- j
		k.wakes.Done()
	}
}

// unholdKey puts a task held for its key back in the intake's count.
func (w *Worker) unholdKey() {
	w.in.mu.Lock()
	w.in.held++
	w.in.mu.Unlock()
}

// setAsideHeld sets aside the tasks held for their key that drop says
// to, or hands them back in a forced stop.
func (w *Worker) setAsideHeld(drop func(keyHold) bool) {
	k := w.keys
	var out []*job
	k.mu.Lock()
	for prefix, q := range k.waits {
		kept := q[:0]
		for _, h := range q {
			if drop(h) {
				out = append(out, h.j)
			} else {
				kept = append(kept, h)
			}
		}
		k.waiting -= len(q) - len(kept)
		if len(kept) == 0 {
			delete(k.waits, prefix)
		} else {
			k.waits[prefix] = kept
		}
	}
	k.mu.Unlock()
	for _, j := range out {
		w.unholdKey()
		if w.baseCtx.Err() != nil {
			w.handBack(j)
			continue
		}
		r := j.route
		d := k.keyWait(wire.KeySlots(r.spec, tasks.KeyOf(j.env.Header)), r.spec.KeyConcurrency,
			time.Duration(r.in.handling.Load()), time.Now())
		w.logTask(w.baseCtx, j, slog.LevelDebug, "jetq: the task's key stayed busy; setting the task aside", slog.Duration(keyDelay, d))
		w.settle(w.baseCtx, j, tasks.Snooze(d), false)
	}
}

// keyWaitsEnded sets aside, at a stop, every task held for its key, and
// holds none from then on: no runner may be left to run one woken later.
func (w *Worker) keyWaitsEnded() {
	w.keys.mu.Lock()
	w.keys.stopping = true
	w.keys.mu.Unlock()
	w.keys.wakes.Wait()
	w.setAsideHeld(func(keyHold) bool { return true })
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
	return k.write(l)
}

// write writes l again with its TTL, expecting its last revision. Called
// with l.mu held.
func (k *keySlots) write(l *keyLease) error {
	ctx, cancel := context.WithTimeout(context.Background(), keySlotTimeout)
	defer cancel()
	sent := time.Now()
	m := &nats.Msg{Subject: k.names.KeySlotSubject(l.name), Data: l.val}
	ack, err := k.js.PublishMsg(ctx, m, jetstream.WithMsgTTL(l.ttl), jetstream.WithExpectLastSequencePerSubject(l.rev))
	if err != nil {
		if provision.WrongLast(err) {
			l.gone = true // lost: not renewed or purged again
		}
		return err
	}
	l.rev, l.sent = ack.Sequence, sent
	return nil
}

// releaseKey gives back the place j holds, if any, and reports whether
// it handed it over instead to the oldest task the worker holds for the
// same key: that task is queued for a runner and takes j's count in the
// intake. A place is handed over only while the server surely keeps it
// (its last write was sent less than two thirds of its TTL ago, or is
// written again now): a task runs only in a place the worker holds. A
// failure to give it back is logged: the place's TTL frees it then.
func (w *Worker) releaseKey(j *job) bool {
	k := w.keys
	k.mu.Lock()
	l := k.held[j]
	var next *job
	if l != nil {
		delete(k.held, j)
		if next = k.next(l.key); next != nil {
			k.held[next] = l
		} else if k.mine[l.key]--; k.mine[l.key] == 0 {
			delete(k.mine, l.key)
		}
	}
	k.mu.Unlock()
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if next != nil && w.handOver(l, next) {
		return true
	}
	if next != nil {
		// Not handed over: next waits again, first, for the purge below
		// (or the place's lapse) to wake it.
		k.mu.Lock()
		delete(k.held, next)
		if k.mine[l.key]--; k.mine[l.key] == 0 {
			delete(k.mine, l.key)
		}
		k.waits[l.key] = append([]keyHold{{j: next, since: time.Now()}}, k.waits[l.key]...)
		k.waiting++
		k.mu.Unlock()
	}
	if l.gone {
		return false
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
	return false
}

// handOver makes l, a place its task has let go, next's, and queues next
// for a runner, unless the worker stops or the place may have lapsed and
// cannot be written again. Called with l.mu held.
func (w *Worker) handOver(l *keyLease, next *job) bool {
	if l.gone {
		return false
	}
	l.val = []byte(next.env.ID) // the next renewal names it
	if time.Since(l.sent) >= l.ttl*2/3 {
		if err := w.keys.write(l); err != nil {
			return false
		}
	}
	select {
	case w.queue <- next:
		return true
	default: // full with tasks woken meanwhile: a runner never waits for its own
		return false
	}
}
