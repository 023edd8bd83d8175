package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/deadletter"
	"github.com/jetq/jetq/internal/fired"
	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/internal/forwarder"
	"github.com/jetq/jetq/internal/pausing"
	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/internal/unique"
	"github.com/jetq/jetq/tasks"
)

// Worker runs the handlers of a [tasks.Registry]: one durable pull consumer
// per registered task, shared with every other worker that handles it, and a
// bound on how many handlers run at once in this process. Create it with
// [New], start it with [Worker.Run] and stop it by cancelling Run's ctx or
// with [Worker.Shutdown]. Its methods are safe for concurrent use; a Worker
// runs once.
type Worker struct {
	js     jetstream.JetStream
	cfg    config
	log    *slog.Logger
	routes []*route
	reg    *tasks.Registry // payload checks for jetq enqueue (validate.go)

	states *statusstore.Store // statuses of tracked tasks
	filer  *deadletter.Filer  // files dead-letter records
	unique *unique.Store      // unique keys, released as tasks settle
	fired  *fired.Store       // claims of delayed and periodic tasks (fired.go)
	keys   *keySlots          // places of keys of running tasks (keylimit.go)
	pauses *pausing.Store     // pauses of queues, read as consumers are created (pause.go)
	flow   *flow.Runner       // follow-ups of settled tasks: callbacks, workflow steps (follow.go)
	// paused are the pause records the worker's watch has, nil while there
	// are none (pause.go).
	paused atomic.Pointer[pausing.Records]
	// presence is the worker's entry in the presence bucket (presence.go).
	presence *presence
	// schedules is set once the work stream takes scheduled tasks, which
	// a snooze needs (snooze.go).
	schedules atomic.Bool
	// cancels keeps the cancelled tasks' IDs and the runners' cancels (cancel.go).
	cancels *cancelWatch
	// tellServer is set when middleware of the user's may read
	// Envelope.Server.
	tellServer bool

	// queue hands the deliveries in hand to the runners, one goroutine per
	// slot of concurrency; running[slot] is the job a runner works on, and
	// hand every delivery held. in plans the pulls (see intake.go).
	queue     chan *job
	running   []atomic.Pointer[job]
	hand      hand
	in        intake
	tiers     []*tier       // the routes by queue priority (priority.go)
	pullsDone chan struct{} // closed when no route delivers any more

	// stopCtx ends when the worker begins to stop: no more pulls.
	stopCtx  context.Context
	stopPull context.CancelFunc
	// baseCtx parents every handler's ctx; it ends when the graceful stop
	// gives up, and then running tasks are handed back.
	baseCtx context.Context
	abort   context.CancelFunc

	started    atomic.Bool
	stoppedLog sync.Once
	active     sync.WaitGroup // route loops and jobs holding a slot
	drained    chan struct{}  // closed once active reaches zero after Run began
	historyEnd chan struct{}  // closed once the last history sample is written (history.go)
	fatal      chan error
}

// New returns a worker for the tasks registered in reg that its options let
// it serve, consuming through js. It does no I/O. It returns an error wrapping
// [ErrInvalidOption] for options out of range and [ErrNoHandlers] when no
// registered task is left to serve.
func New(js jetstream.JetStream, reg *tasks.Registry, opts ...Option) (*Worker, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
	}
	if reg == nil {
		return nil, fmt.Errorf("%w: registry is nil", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	states, err := statusstore.New(js, cfg.topo)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	w := &Worker{
		js:        js,
		reg:       reg,
		cfg:       cfg,
		log:       cfg.log,
		running:   make([]atomic.Pointer[job], cfg.concurrency),
		hand:      hand{jobs: map[*job]struct{}{}},
		pullsDone: make(chan struct{}),
		drained:   make(chan struct{}),
		fatal:     make(chan error, 1),
		states:    states,
		filer:     deadletter.New(js, cfg.topo, cfg.log),
		unique:    unique.New(js, cfg.topo),
		fired:     fired.New(js, cfg.topo),
		keys:      newKeySlots(js, cfg),
		pauses:    pausing.New(js, cfg.topo),
		flow:      flow.New(js, cfg.topo, cfg.log),
		presence:  newPresence(),
		cancels:   newCancelWatch(js, cfg),
		in:        newIntake(js),
	}
	w.tellServer = len(w.cfg.middleware) > 0
	w.historyEnd = make(chan struct{})
	w.stopCtx, w.stopPull = context.WithCancel(context.Background())
	w.baseCtx, w.abort = context.WithCancel(context.Background())
	for _, rt := range reg.Routes() {
		if cfg.serves(rt.Spec.Queue) {
			w.routes = append(w.routes, w.newRoute(rt))
		}
	}
	if len(w.routes) == 0 {
		return nil, fmt.Errorf("%w: the registry has no task on queues %v", ErrNoHandlers, cfg.queues)
	}
	if err := w.makeTiers(); err != nil {
		return nil, err
	}
	// The most the intake can bring: the slots, the prefetch, and a
	// waiting pull of one task per idle type.
	w.queue = make(chan *job, cfg.concurrency+cfg.prefetch+len(w.routes))
	return w, nil
}

// Run provisions the streams and consumers, then pulls and runs tasks until
// ctx is cancelled or [Worker.Shutdown] is called. On cancellation it stops
// pulling, lets running handlers finish within the shutdown timeout (see
// [WithShutdownTimeout]) and returns nil.
//
// Run survives a consumer deleted on the server and a dropped connection by
// itself, logging what happened. It returns [ErrRunning] when called twice,
// [ErrConnectionClosed] when the connection is closed under it, and an error
// when the streams cannot be provisioned for a reason retrying cannot fix.
func (w *Worker) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	w.active.Add(1) // held until every route loop has started
	go func() {
		w.active.Wait()
		close(w.drained)
	}()
	if err := w.provision(ctx); err != nil {
		w.stopPull()
		w.active.Done()
		return err
	}
	// The history stream is made here, before any task, rather than by
	// recordHistory beside a stop: a stream created while a test's or a
	// process's server shuts down outlives it.
	var hist jetstream.Stream
	var histErr error
	if w.stopCtx.Err() == nil {
		hist, histErr = w.historyStream()
	}
	if w.stopCtx.Err() == nil {
		w.watchCancels() // before the first task: the stored records first
		w.watchPauses()  // pause.go
	}
	w.active.Add(w.cfg.concurrency)
	for slot := range w.cfg.concurrency {
		go w.runner(slot)
	}
	go w.intakeRun()
	go w.watchConnection()
	go w.heartbeat()
	go w.announce()
	go w.recordHistory(hist, histErr)
	go w.serveValidation()
	if w.cfg.forward {
		w.active.Add(1)
		go func() {
			defer w.active.Done()
			// Provisioned above; stopped with the pulls, and counted in
			// active so that Shutdown waits for its event in hand.
			f := forwarder.New(w.js, forwarder.Config{Topology: w.cfg.topo, States: w.states, Flow: w.flow, Log: w.log, Provisioned: true})
			// A closed connection ends Run too, which reports it.
			if err := f.Run(w.stopCtx); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				w.log.LogAttrs(w.stopCtx, slog.LevelError, "jetq: dead-letter forwarder stopped", slog.String(keyError, err.Error()))
			}
		}()
	}
	w.active.Done()
	w.log.LogAttrs(ctx, slog.LevelInfo, "jetq: worker started",
		slog.Int(keyCount, len(w.routes)), slog.Int("concurrency", w.cfg.concurrency))

	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.shutdownTimeout)
		defer cancel()
		_ = w.Shutdown(sctx) // a timeout here is logged by Shutdown and not Run's failure
		w.historyWritten()
		return nil
	case <-w.stopCtx.Done():
		<-w.drained
		w.historyWritten()
		return nil
	case err := <-w.fatal:
		w.stopPull()
		w.forceStop(context.Background())
		<-w.drained
		return err
	}
}

// Shutdown stops the worker: it stops pulling, lets running handlers and
// already delivered tasks finish, and returns nil once they have and the
// server has ended the worker's open pulls (within about a second). A
// delivery that reaches the worker after it stopped pulling, sent by the
// server as the stop began, is one of those delivered tasks: it is neither
// lost nor charged an attempt for the stop. If ctx ends first it cancels the handlers' ctx, hands their tasks back to
// the server for immediate redelivery (to another worker), and returns
// ctx's error; the hand-back waits for the pulls to end, so it may come up
// to about a second after ctx ends. Shutdown is idempotent and may be
// called before, during or after Run.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.stopPull()
	if !w.started.Load() {
		return nil
	}
	select {
	case <-w.drained:
		w.stoppedLog.Do(func() { w.log.LogAttrs(ctx, slog.LevelInfo, "jetq: worker stopped") })
		return nil
	case <-ctx.Done():
	}
	w.log.LogAttrs(ctx, slog.LevelWarn, "jetq: shutdown deadline passed; handing running tasks back",
		slog.Int(keyCount, w.inFlight()))
	w.forceStop(ctx)
	return ctx.Err()
}

// inFlight counts the handlers running now.
func (w *Worker) inFlight() int {
	n := 0
	for i := range w.running {
		if w.running[i].Load() != nil {
			n++
		}
	}
	return n
}

// forceStop cancels every handler, waits a moment for them to hand their
// tasks back, then releases the tasks of handlers that ignore their ctx.
func (w *Worker) forceStop(ctx context.Context) {
	// The pulls end within about a second of the stop; a task handed back
	// while one of its type is open would come back to this worker, at the
	// cost of an attempt, rather than go to another.
	select {
	case <-w.pullsDone:
	case <-time.After(stopWait):
	}
	w.abort()
	t := time.NewTimer(w.cfg.releaseGrace)
	defer t.Stop()
	select {
	case <-w.drained:
		return
	case <-t.C:
	}
	for i := range w.running {
		if j := w.running[i].Load(); j != nil {
			w.abandon(ctx, j)
		}
	}
	select {
	case <-w.drained:
	case <-time.After(5 * time.Second):
		w.log.LogAttrs(ctx, slog.LevelError, "jetq: worker did not stop: a consumer did not close")
	}
}

// provision creates the streams, retrying what a retry can fix until ctx or
// a shutdown ends it.
func (w *Worker) provision(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(w.stopCtx, cancel)
	defer stop()
	work, err := provision.Streams(ctx, w.js, w.cfg.topo, w.log, 0)
	switch {
	case ctx.Err() != nil:
		return nil // stopped before it started: not a failure
	case errors.Is(err, nats.ErrConnectionClosed):
		return ErrConnectionClosed
	case err != nil:
		return fmt.Errorf("consumer: %w", err)
	}
	w.schedules.Store(w.cfg.names.Schedules(work))
	// On a WorkQueue stream consumers must have the stream's replicas,
	// whoever created it and however.
	for _, r := range w.routes {
		r.consumer.Replicas = work.Replicas
	}
	return w.ensureRates(ctx)
}

// watchConnection logs connection losses and recoveries, and ends Run when
// the connection is closed for good.
func (w *Worker) watchConnection() {
	nc := w.js.Conn()
	ch := nc.StatusChanged(nats.RECONNECTING, nats.CONNECTED, nats.CLOSED)
	defer nc.RemoveStatusListener(ch)
	if nc.IsClosed() {
		w.fail(ErrConnectionClosed)
		return
	}
	for {
		select {
		case <-w.stopCtx.Done():
			return
		case st := <-ch:
			switch st {
			case nats.RECONNECTING:
				w.log.LogAttrs(w.stopCtx, slog.LevelWarn, "jetq: connection lost; tasks pause until it is back")
			case nats.CONNECTED:
				w.log.LogAttrs(w.stopCtx, slog.LevelInfo, "jetq: connection restored; pulling again")
				w.abandonPulls()
			case nats.CLOSED:
				w.fail(ErrConnectionClosed)
				return
			}
		}
	}
}

func (w *Worker) fail(err error) {
	select {
	case w.fatal <- err:
	default:
	}
}
