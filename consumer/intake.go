package consumer

// How the worker takes tasks in.
//
// Every delivery is in the worker's own hands from the moment it arrives:
// queued for a runner, running, or having its record filed. The heartbeat
// tells the server about every one of them, so none is redelivered to
// another worker while this one holds it.
//
// One planner decides every pull of every task type, from two counts: the
// deliveries held and the tasks asked for and not come yet. A type is hot
// while its pulls bring tasks, idle otherwise.
//
//   - A hot type asks for a batch of what its limit leaves room for: the
//     slots plus the type's prefetch, less what is held and asked for. Its
//     pull does not wait (no_wait): the server answers at once with the
//     tasks it has and ends the pull when it has no more, so no empty pull
//     keeps room from another type. Two may overlap, so runners do not
//     wait a round trip between batches. A pull that brings nothing makes
//     its type idle.
//   - While a slot is free, or a hot type refills its prefetch (held and
//     asked for, as a plan starts, below the concurrency plus the largest
//     prefetch of a hot type), every idle type keeps one waiting pull for
//     one task, which expires after waitExpiry; its task comes within a
//     round trip of being stored, and makes the type hot. Measured from
//     the plan's start, before a hot type takes the room, so that a type
//     with a rare task gets its turn between the batches of a backlog of
//     another type, and its task waits behind no more than the prefetch.
//     A worker with no free slot and no prefetch to refill makes no
//     waiting pull, so within waitExpiry of its slots filling it asks for
//     nothing another worker could start.
//
// The worker therefore holds at most its slots and its prefetch, plus one
// task per type that reached it through a waiting pull beyond its free
// slots: tasks of several idle types arriving together, within waitExpiry
// after the last free slot was taken, or while a backlog refills its
// prefetch (see WithPrefetch).
//
// Under a queue priority (WithStrictPriority, WithQueueWeights) the plan
// goes through the routes a queue at a time and decides which queue's
// types may pull; see priority.go.
//
// A type's prefetch is sized from its recent handling time: the worker
// queues a task beyond its slots only if the type's handling time says a
// slot will take it within prefetchHorizon. Millisecond tasks get the full
// prefetch ([WithPrefetch]), tasks of a second or more none, and a type
// with no finished task yet none.
//
// The pulls are made here on the core connection (the JetStream pull
// request protocol) rather than with the jetstream package's Fetch, for
// one reason: a pull ends only on the server's word (its batch complete,
// "no messages", or its expiry). The server checks a pull's interest
// before it queues a delivery for it, not when the delivery goes out, so a
// subscription removed under an open pull — what Fetch does when its
// context ends — loses deliveries the server counts as delivered, and they
// wait out their ack wait. At a stop the worker makes no more pulls and
// waits for the open ones to end (within waitExpiry). What they bring
// meanwhile is taken like every delivery before it: run by the graceful
// stop, or handed back by a forced one, which waits for the pulls to end
// first. Handing such a delivery back at once would cost it an attempt
// (the server counts deliveries), and an open pull of its type could take
// it again, at the cost of another.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
)

const (
	// waitExpiry bounds an idle type's waiting pull, and with it how long a
	// worker whose slots filled may still be sent a task of that type, and
	// how long a stop waits for the server to end its pulls.
	waitExpiry = time.Second
	// pullLost is how long past its expiry, or how long a batch goes
	// unanswered, before a pull is taken for lost (its server restarted or
	// lost its leadership) and made again.
	pullLost = 2 * time.Second
	// batchLost bounds a batch pull the server does not end: one of a type
	// at its MaxAckPending waits for an acknowledgement.
	batchLost = 30 * time.Second
	// prefetchHorizon is how soon a prefetched task is expected to start:
	// a type's prefetch is what its slots handle in that time.
	prefetchHorizon = 50 * time.Millisecond
	// stopWait bounds the wait at a stop for the server to end the pulls.
	stopWait = waitExpiry + pullLost
)

// intake is the worker's pull planner state. Safe for concurrent use.
type intake struct {
	mu        sync.Mutex
	held      int  // deliveries in hand
	requested int  // tasks asked for by batch pulls, not come yet
	stopping  bool // no more pulls; deliveries go back at once
	fill      int  // the largest prefetch of a type with tasks at the last plan
	open      map[*pull]struct{}
	ensuring  int           // routes creating their consumer
	kick      chan struct{} // asks for a plan; capacity 1
	closed    chan struct{} // closed once stopping and nothing is open
	api       string        // subject of pull requests, but the durable's name
}

// feed is the intake state of one route, guarded by intake.mu but for
// handling, which the runners update.
type feed struct {
	ready     bool  // its durable exists
	hot       bool  // its last pull brought tasks
	batches   int   // open batch pulls
	asked     int   // tasks its open batch pulls asked for and have not brought
	pending   int   // tasks the server had for it after its last delivery
	waiting   *pull // its open waiting pull
	notBefore time.Time
	delay     time.Duration // after a failed pull, doubling to a second
	// handling is the recent handling time of its tasks, in nanoseconds,
	// an exponential average; 0 until a task has finished.
	handling atomic.Int64
	// tier is its queue's tier under a queue priority (priority.go).
	tier *tier
}

// noteHandling adds a handler's run of d to the route's handling time.
func (f *feed) noteHandling(d time.Duration) {
	n := max(int64(d), 1)
	if old := f.handling.Load(); old != 0 {
		n = old + (n-old)/4
	}
	f.handling.Store(n)
}

// pull is one pull request and the subscription its deliveries come on.
type pull struct {
	r       *route
	sub     *nats.Subscription
	n, got  int       // asked for, come
	waiting bool      // an idle type's waiting pull, else a batch
	at      time.Time // when a weighted worker made it (priority.go)
	timer   *time.Timer
	closing atomic.Bool // withdrawn or ended: its subscription is going
	ended   atomic.Bool // its end is taken in (pullClosed)
	err     error       // how it ended, set in its own callback
	window  int64       // the rate-limit window of its starts (ratelimit.go)
}

// pullRequest is the body of a JetStream pull request.
type pullRequest struct {
	Batch     int           `json:"batch"`
	Expires   time.Duration `json:"expires,omitempty"`
	NoWait    bool          `json:"no_wait,omitempty"`
	Heartbeat time.Duration `json:"idle_heartbeat,omitempty"`
	Group     string        `json:"group"`
}

func newIntake(js jetstream.JetStream) intake {
	o := js.Options()
	api := jetstream.DefaultAPIPrefix
	switch {
	case o.Domain != "":
		api = "$JS." + o.Domain + ".API."
	case o.APIPrefix != "":
		api = strings.TrimSuffix(o.APIPrefix, ".") + "."
	}
	return intake{
		open:   map[*pull]struct{}{},
		kick:   make(chan struct{}, 1),
		closed: make(chan struct{}),
		api:    api + "CONSUMER.MSG.NEXT.",
	}
}

// wake asks the planner for a plan.
func (in *intake) wake() {
	select {
	case in.kick <- struct{}{}:
	default:
	}
}

// released lets one delivery go out of the worker's hands.
func (w *Worker) released() {
	w.in.mu.Lock()
	w.in.held--
	w.in.mu.Unlock()
	w.in.wake()
}

// held reports the deliveries in the worker's hands and the handlers
// running, for tests that sample what a worker holds.
func (w *Worker) held() (held, running int) {
	w.in.mu.Lock()
	defer w.in.mu.Unlock()
	return w.in.held, w.inFlight()
}

// intakeRun creates every route's consumer and plans pulls until the
// worker stops; then it withdraws the open pulls, hands back what they
// still bring, and closes pullsDone.
func (w *Worker) intakeRun() {
	defer close(w.pullsDone)
	in := &w.in
	in.mu.Lock()
	for _, r := range w.routes {
		in.ensuring++
		go w.ensure(r)
	}
	in.mu.Unlock()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-in.kick:
		case <-t.C:
		case <-w.stopCtx.Done():
			w.stopPulls()
			select {
			case <-in.closed:
			case <-time.After(stopWait):
				w.abandonPulls()
				<-in.closed
			}
			w.keyHoldsEnded() // tasks held for their key's limit (ratelimit.go)
			return
		}
		if next := w.plan(time.Now()); !next.IsZero() {
			t.Reset(time.Until(next))
		}
	}
}

// plan makes the pulls the counts allow and returns when it must plan
// again even if nothing happens (zero: not before something happens).
//
// Every idle type gets its waiting pull back when the plan starts with
// room for a slot or a hot type's prefetch, whatever a hot type planned
// before it takes: a hot type with a backlog refills the worker to its
// slots and prefetch at each freed slot, and an idle type offered room
// only below the slots would wait for the whole backlog.
func (w *Worker) plan(now time.Time) (again time.Time) {
	in := &w.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.stopping {
		return time.Time{}
	}
	c := w.cfg.concurrency
	later := func(t time.Time) {
		if again.IsZero() || t.Before(again) {
			again = t
		}
	}
	busy, fill := in.held+in.requested, c+in.fill
	in.fill = 0
	weighted, blocked := w.cfg.weights != nil, false
	for ti, t := range w.tiers {
		// Strict: every tier but the last keeps its waiting pulls while
		// slots are busy, and only the first prefetches.
		above := w.cfg.strict && ti < len(w.tiers)-1
		prefetch := !w.cfg.strict || ti == 0
		for i := range t.routes {
			r := t.routes[(t.next+i)%len(t.routes)]
			f := &r.in
			switch {
			case !f.ready:
			case now.Before(f.notBefore):
				later(f.notBefore)
			case blocked:
				// Strict: a higher queue has tasks.
			case f.hot && f.pending > f.asked:
				limit := w.limitOf(f, prefetch)
				in.fill = max(in.fill, limit-c)
				if !weighted { // else share gives the room
					w.batch(r, limit)
				}
			case f.hot && f.batches > 0:
				// It may still bring tasks.
			case f.hot && above:
				// Only a batch that comes back empty says a higher queue
				// has no more tasks.
				if room := w.limitOf(f, prefetch) - in.held - in.requested; room >= 1 {
					w.openPull(r, min(room, c), false)
				}
			case f.hot:
				f.hot = false // nothing more was there: wait for the next
				fallthrough
			default:
				if f.waiting == nil && (busy < fill || above) {
					w.openPull(r, 1, true)
				}
			}
		}
		t.next++
		blocked = blocked || w.cfg.strict && t.busy()
	}
	if weighted {
		w.share(now)
	}
	return again
}

// batch asks a hot route for what the server said it had, as far as the
// room below limit allows, so that many types with a few tasks each pull
// side by side; a second batch overlaps the first only with half the limit
// free. It returns the tasks asked for. Called with in.mu held.
func (w *Worker) batch(r *route, limit int) int {
	in, f := &w.in, &r.in
	room := limit - in.held - in.requested
	if room < 1 || f.batches > 1 || f.batches == 1 && room < max(limit/2, 1) {
		return 0
	}
	n, before := min(room, f.pending-f.asked, w.cfg.concurrency+w.cfg.prefetch), f.batches
	w.openPull(r, n, false)
	if f.batches == before {
		return 0 // it failed
	}
	return n
}

// limitOf is what a route may bring the worker's deliveries in hand and
// asked for up to: the slots, and its prefetch if it may prefetch.
func (w *Worker) limitOf(f *feed, prefetch bool) int {
	if !prefetch {
		return w.cfg.concurrency
	}
	return w.cfg.concurrency + w.prefetchOf(f)
}

// prefetchOf is what a route's tasks may queue beyond the slots: what the
// slots handle within prefetchHorizon at the type's recent handling time,
// at most the prefetch, and none before a task of the type has finished.
func (w *Worker) prefetchOf(f *feed) int {
	h := f.handling.Load()
	if h == 0 {
		return 0
	}
	return int(min(int64(w.cfg.concurrency)*int64(prefetchHorizon)/h, int64(w.cfg.prefetch)))
}

// openPull asks route r's durable for n tasks: a waiting pull for one, or
// a batch that does not wait. Called with in.mu held.
func (w *Worker) openPull(r *route, n int, waiting bool) {
	in, nc, f := &w.in, w.js.Conn(), &r.in
	p := &pull{r: r, n: n, waiting: waiting}
	expires := waitExpiry
	if r.rates != nil {
		if n, expires = r.rates.grantPull(p); n == 0 {
			return // no start granted now: the gate wakes the planner
		}
	}
	if w.cfg.weights != nil {
		p.at = time.Now()
	}
	inbox := nc.NewInbox()
	sub, err := nc.Subscribe(inbox, func(m *nats.Msg) { w.pulled(p, m) })
	if err != nil {
		w.pullTrouble(r, err)
		return
	}
	p.sub = sub
	if f := pullSubscribed.Load(); f != nil {
		(*f)()
	}
	req := pullRequest{Batch: n, NoWait: !waiting, Group: wire.PriorityGroup}
	watch := batchLost
	if waiting {
		req.Expires = expires
		watch = expires + pullLost
		f.waiting = p
	} else {
		f.batches++
		f.asked += n
		in.requested += n
	}
	in.open[p] = struct{}{}
	p.timer = time.AfterFunc(watch, func() {
		// The server did not end the pull: it lost it. Its end makes it
		// again.
		if p.closing.CompareAndSwap(false, true) {
			_ = p.sub.Unsubscribe()
		}
	})
	sub.SetClosedHandler(func(string) { w.pullClosed(p) })
	if !sub.IsValid() {
		// The connection closed before the handler was set: nats.go calls
		// the closed handler a subscription has when it closes, and this
		// one had none. Its end is taken in here, before any request.
		p.err = nats.ErrConnectionClosed
		go w.pullClosed(p)
		return
	}
	body, _ := json.Marshal(req) // cannot fail
	if err := nc.PublishRequest(in.api+w.cfg.names.WorkStream()+"."+r.consumer.Durable, inbox, body); err != nil {
		p.err = err
		if p.closing.CompareAndSwap(false, true) {
			_ = sub.Unsubscribe()
		}
	}
}

// pulled takes one message of pull p: a delivery into the worker's hands,
// a heartbeat, or the status that ends the pull. It runs on the pull's
// subscription, one message at a time.
func (w *Worker) pulled(p *pull, m *nats.Msg) {
	if status := m.Header.Get("Status"); status != "" && len(m.Data) == 0 {
		if status == "100" { // a heartbeat, or flow control
			return
		}
		p.err = statusError(status, m.Header.Get("Description"))
		if p.closing.CompareAndSwap(false, true) {
			_ = p.sub.Unsubscribe() // the server has ended the pull
		}
		return
	}
	d := newDelivery(m, w.js.Conn())
	in, f := &w.in, &p.r.in
	in.mu.Lock()
	p.got++
	if !p.waiting {
		in.requested--
		f.asked--
	} else {
		f.credit(1)
	}
	in.held++
	f.hot = true
	if d.md != nil {
		f.pending = int(d.md.NumPending)
	}
	in.mu.Unlock()
	w.hold(p.r, d)
	if p.got == p.n && p.closing.CompareAndSwap(false, true) {
		_ = p.sub.Unsubscribe() // all it asked for came: the server has ended it
	}
}

// pullSubscribed, when set, runs between a pull's subscription and the
// setting of its closed handler, for tests that close the connection there.
var pullSubscribed atomic.Pointer[func()]

// errPullEnded marks statuses that end a pull as expected.
var errPullEnded = errors.New("pull ended")

// statusError is the error a pull's status means, errPullEnded for an
// ordinary end.
func statusError(status, description string) error {
	d := strings.ToLower(description)
	switch {
	case status == "404", status == "408":
		return errPullEnded // no tasks now, the pull expired, or requests pending
	case status == "409" && strings.Contains(d, "consumer deleted"):
		return jetstream.ErrConsumerDeleted
	case status == "409" && strings.Contains(d, "leadership change"):
		return errPullEnded
	case status == "503":
		return nats.ErrNoResponders
	}
	return fmt.Errorf("%s %s", status, description)
}

// pullClosed ends pull p once its subscription has taken its last message.
func (w *Worker) pullClosed(p *pull) {
	if !p.ended.CompareAndSwap(false, true) {
		return // taken in already (openPull)
	}
	p.timer.Stop()
	in, f := &w.in, &p.r.in
	in.mu.Lock()
	delete(in.open, p)
	if r := p.r; r.rates != nil {
		r.rates.pullEnded(p)
	}
	if p.waiting {
		f.waiting = nil
	} else {
		f.batches--
		f.asked -= p.n - p.got
		in.requested -= p.n - p.got
		f.credit(p.got - p.n)
		if p.got == 0 {
			f.hot = false
		}
	}
	defer in.mu.Unlock()
	if in.stopping {
		if len(in.open) == 0 && in.ensuring == 0 {
			close(in.closed)
		}
		return
	}
	switch err := p.err; {
	case err == nil, errors.Is(err, errPullEnded):
		f.delay = 0
	case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, nats.ErrNoResponders):
		w.logRoute(w.stopCtx, p.r, slog.LevelWarn, "jetq: consumer deleted on the server or not reachable; recreating it",
			slog.String(keyError, err.Error()))
		f.ready, f.hot = false, false
		in.ensuring++
		go w.ensure(p.r)
	default:
		w.pullTrouble(p.r, err)
	}
	in.wake()
}

// pullTrouble logs a failed pull of route r and holds its next pull back a
// little. Called with in.mu held.
func (w *Worker) pullTrouble(r *route, err error) {
	if w.js.Conn().IsClosed() {
		w.fail(ErrConnectionClosed)
		return
	}
	f := &r.in
	f.delay = min(max(2*f.delay, 100*time.Millisecond), time.Second)
	f.notBefore = time.Now().Add(f.delay)
	w.logRoute(w.stopCtx, r, slog.LevelWarn, "jetq: pull failed; retrying", slog.String(keyError, err.Error()))
}

// stopPulls makes no more pulls. The open ones end on the server's word,
// within waitExpiry, and what they still bring is taken in: a pull's
// subscription removed under it would lose the deliveries the server has
// sent or queued for it (it checks the reply subject's interest before it
// queues a delivery, not when the delivery goes out), and those would wait
// out their ack wait.
func (w *Worker) stopPulls() {
	in := &w.in
	in.mu.Lock()
	defer in.mu.Unlock()
	in.stopping = true
	if len(in.open) == 0 && in.ensuring == 0 {
		close(in.closed)
	}
}

// abandonPulls ends the open pulls: at a stop, those still open past
// stopWait (the server lost them, or a type at its MaxAckPending keeps
// one); after a reconnection, all of them, which the server dropped with
// the connection. Their ends make them again, unless the worker stops.
func (w *Worker) abandonPulls() {
	in := &w.in
	in.mu.Lock()
	defer in.mu.Unlock()
	for p := range in.open {
		if p.closing.CompareAndSwap(false, true) {
			_ = p.sub.Unsubscribe()
		}
	}
}

// ensure creates route r's durable consumer, trying again until it exists
// or the worker stops, then lets the planner pull for it.
func (w *Worker) ensure(r *route) {
	ctx := w.stopCtx
	// At most a second between tries: pulls resume soon after a new
	// consumer leader is elected.
	bo := retry.New(100*time.Millisecond, time.Second, 0)
	recovering := false
	for {
		cons, err := w.ensureConsumer(ctx, r)
		if err == nil {
			if ci := cons.CachedInfo(); ci != nil {
				r.replicated.Store(ci.Cluster != nil && len(ci.Cluster.Replicas) > 0)
			}
			if recovering {
				w.logRoute(ctx, r, slog.LevelInfo, "jetq: consumer recovered")
			}
			break
		}
		if !w.pullFailed(ctx, r, "jetq: cannot consume yet; retrying", err) || bo.Wait(ctx) != nil {
			break
		}
		recovering = true
	}
	in := &w.in
	in.mu.Lock()
	defer in.mu.Unlock()
	in.ensuring--
	if in.stopping {
		if len(in.open) == 0 && in.ensuring == 0 {
			close(in.closed)
		}
		return
	}
	r.in.ready = ctx.Err() == nil
	in.wake()
}

// pullFailed logs a failed request of route r. It reports whether to go
// on: not once the worker stops or the connection is closed for good
// (which ends Run).
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
	stream := w.cfg.names.WorkStream()
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
	return w.createPaused(cctx, stream, r)
}

// Log attribute keys of a payload type collision, beside those of log.go.
const (
	keyPayloadType  = "payload_type"  // the worker's
	keyRecordedType = "recorded_type" // the durable's, recorded by another worker
)

// delivery is a task delivered to one of the worker's pulls: a
// [jetstream.Msg] over the core message, acknowledged on its reply subject
// as the jetstream package does.
type delivery struct {
	msg   *nats.Msg
	nc    *nats.Conn
	md    *jetstream.MsgMetadata // parsed from the reply subject once
	mdErr error
	mu    sync.Mutex
	ackd  bool
}

var _ jetstream.Msg = (*delivery)(nil)

// newDelivery is the delivery of m, received on nc.
func newDelivery(m *nats.Msg, nc *nats.Conn) *delivery {
	d := &delivery{msg: m, nc: nc}
	md, err := m.Metadata()
	if err != nil {
		d.mdErr = fmt.Errorf("%w: %w", jetstream.ErrNotJSMessage, err)
		return d
	}
	d.md = &jetstream.MsgMetadata{
		Sequence:     jetstream.SequencePair{Consumer: md.Sequence.Consumer, Stream: md.Sequence.Stream},
		NumDelivered: md.NumDelivered,
		NumPending:   md.NumPending,
		Timestamp:    md.Timestamp,
		Stream:       md.Stream,
		Consumer:     md.Consumer,
		Domain:       md.Domain,
	}
	return d
}

// Metadata is what the delivery's reply subject says.
func (d *delivery) Metadata() (*jetstream.MsgMetadata, error) { return d.md, d.mdErr }

// Data is the task's body.
func (d *delivery) Data() []byte { return d.msg.Data }

// Headers are the task's headers.
func (d *delivery) Headers() nats.Header { return d.msg.Header }

// Subject is the task's subject.
func (d *delivery) Subject() string { return d.msg.Subject }

// Reply is the subject acknowledgements go to.
func (d *delivery) Reply() string { return d.msg.Reply }

// Ack acknowledges the task.
func (d *delivery) Ack() error { return d.ack(nil, "+ACK", true) }

// DoubleAck acknowledges the task and waits for the server's confirmation.
func (d *delivery) DoubleAck(ctx context.Context) error { return d.ack(ctx, "+ACK", true) }

// Nak hands the task back for redelivery now.
func (d *delivery) Nak() error { return d.ack(nil, "-NAK", true) }

// NakWithDelay hands the task back for redelivery after delay.
func (d *delivery) NakWithDelay(delay time.Duration) error {
	return d.ack(nil, fmt.Sprintf(`-NAK {"delay": %d}`, delay.Nanoseconds()), true)
}

// InProgress restarts the task's ack wait.
func (d *delivery) InProgress() error { return d.ack(nil, "+WPI", false) }

// Term tells the server never to deliver the task again.
func (d *delivery) Term() error { return d.ack(nil, "+TERM", true) }

// TermWithReason is Term with a reason for the server's advisory.
func (d *delivery) TermWithReason(reason string) error {
	return d.ack(nil, "+TERM "+reason, true)
}

// ack sends body to the reply subject, as a request when ctx is set; final
// marks an answer after which no other is sent.
func (d *delivery) ack(ctx context.Context, body string, final bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ackd {
		return jetstream.ErrMsgAlreadyAckd
	}
	nc := d.nc
	var err error
	if ctx != nil {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
		}
		_, err = nc.RequestWithContext(ctx, d.msg.Reply, []byte(body))
	} else {
		err = nc.Publish(d.msg.Reply, []byte(body))
	}
	if err == nil && final {
		d.ackd = true
	}
	return err
}
