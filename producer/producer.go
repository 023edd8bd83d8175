package producer

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/internal/unique"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// Producer enqueues tasks on the work stream of one JetStream context. It is
// safe for concurrent use; create one per process and share it. It does not
// own the connection: close that yourself when done.
type Producer struct {
	js         jetstream.JetStream
	pub        jetstream.JetStream // publishes: js's connection, with jetq's ack timeout
	cfg        config
	workStream string // the work stream's name
	enqueue    tasks.Enqueuer
	group      tasks.Enqueuer // the middleware around publishGroup: a chunk of a group
	states     *statusstore.Store
	unique     *unique.Store

	mu          sync.Mutex   // held while provisioning
	provisioned atomic.Bool  // read without mu by every enqueue
	schedules   atomic.Bool  // the work stream takes scheduled tasks
	ttl         atomic.Bool  // the work stream takes per-task TTLs
	dedupWindow atomic.Int64 // the work stream's deduplication window, a time.Duration
	atomic      atomic.Bool  // the work stream takes atomic batches
	replicated  atomic.Bool  // the work stream has more than one replica
	batchLimit  atomic.Int64 // the most tasks the server takes in one atomic batch
}

// Result is the outcome of enqueueing one task.
type Result struct {
	// ID is the task ID, chosen with WithID or generated.
	ID string `json:"id"`
	// Stream and Sequence locate the stored task.
	Stream   string `json:"stream"`
	Sequence uint64 `json:"seq"`
	// Duplicate is true when the server already held a task with this ID
	// within its deduplication window and dropped this one.
	Duplicate bool `json:"duplicate"`
	// Debounced is true when the enqueue ([WithDebounce]) replaced a task
	// of its key still waiting: this one's payload runs instead, window
	// after this enqueue.
	Debounced bool `json:"debounced,omitempty"`
	// Err is why the task was not enqueued, in [EnqueueBatch] and
	// [EnqueueGroup] results. It is not marshalled: an error value has no
	// JSON form.
	Err error `json:"-"`
}

// New returns a producer that publishes through js. It does no I/O: the
// streams are created on the first enqueue. It returns an error wrapping
// [ErrInvalidOption] for options out of range.
func New(js jetstream.JetStream, opts ...Option) (*Producer, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
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
	// Publishes go through a JetStream context of the producer's own on js's
	// connection, so that nats.go drops an acknowledgement that never comes
	// after the ack timeout: without that, every lost one would hold a place
	// among the connection's pending async publishes for good. nats.go's own
	// bound on pending publishes is lifted: each call bounds its own by the
	// async window, and concurrent calls must not fail each other.
	pub, err := jetstream.New(js.Conn(), jetstream.WithPublishAsyncTimeout(cfg.ackTimeout),
		jetstream.WithPublishAsyncMaxPending(math.MaxInt))
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	p := &Producer{
		js: js, pub: pub, cfg: cfg, workStream: cfg.names.WorkStream(), states: states,
		unique: unique.New(js, cfg.topo),
	}
	p.batchLimit.Store(defaultBatchLimit)
	p.enqueue = p.chain(p.publish)
	p.group = p.chain(p.publishGroup)
	return p, nil
}

// chain wraps publish in the producer's middleware.
func (p *Producer) chain(publish tasks.Enqueuer) tasks.Enqueuer {
	enqueue, nc := tasks.ChainEnqueue(publish, p.cfg.middleware...), p.js.Conn()
	if len(p.cfg.middleware) == 0 {
		return enqueue
	}
	return func(ctx context.Context, batch []*tasks.Envelope) []error {
		// The middleware see which server the tasks go to: server.address in traces.
		server := nc.ConnectedAddr()
		for _, env := range batch {
			env.Server = server
		}
		return enqueue(ctx, batch)
	}
}

// Close releases what the producer holds on the connection: the
// subscription its acknowledgements arrive on, and a goroutine. Enqueues
// still awaiting an acknowledgement fail. The connection stays open, and a
// producer used after Close takes them again, until the next Close. A
// producer that lives as long as its connection needs no Close.
func (p *Producer) Close() { p.pub.CleanupPublisher() }

// Provision creates the streams jetq needs if they are missing; the first
// enqueue does it too. Use it to fail fast at start-up. While the server
// cannot answer yet (a cluster electing leaders) it tries again, within the
// retry timeout ([WithRetryTimeout]) and ctx.
func (p *Producer) Provision(ctx context.Context) error {
	if p.provisioned.Load() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provisioned.Load() {
		return nil
	}
	work, err := provision.Streams(ctx, p.js, p.cfg.topo, p.cfg.log, p.cfg.retryTimeout)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	p.schedules.Store(p.cfg.names.Schedules(work))
	p.ttl.Store(work.AllowMsgTTL)
	p.dedupWindow.Store(int64(work.Duplicates))
	p.atomic.Store(work.AllowAtomicPublish)
	p.replicated.Store(work.Replicas > 1)
	p.provisioned.Store(true)
	return nil
}

// Enqueue validates payload, encodes it and publishes it as one task of def,
// returning once the server has stored it (or dropped it as a duplicate).
//
// It returns an error wrapping tasks.ErrInvalidPayload when the payload does
// not validate or encode, tasks.ErrInvalidName for an invalid definition,
// [ErrInvalidOption] for bad options and [ErrQueueFull] when the work stream
// is full; in all these cases nothing was enqueued. Publishes that fail with
// a disconnect, a timeout, a leader election or a leader cut off from its
// peers are retried with the same ID until ctx is done or the retry timeout
// passes; what still fails then wraps [ErrUnavailable]. [ErrQueueFull] and
// [ErrUnavailable] wrap [ErrRetryable]: call again later with the same ID.
//
// With [WithDelay] or [WithRunAt] the task waits in the schedule stream,
// and the Result's Stream says so; with [WithUnique] and a key held, the
// Result carries the holder's ID and Duplicate; with [WithDebounce] the
// key's task ID, and Debounced when it replaced a waiting one.
func Enqueue[T any](ctx context.Context, p *Producer, def tasks.Def[T], payload T, opts ...EnqueueOption) (Result, error) {
	now := time.Now()
	ec, err := enqueueOptions(opts, false, 1, now)
	if err != nil {
		return Result{}, err
	}
	tpl, err := template(p, def, now)
	if err != nil {
		return Result{}, err
	}
	if err := ec.callbacksOf(def); err != nil {
		return Result{}, err
	}
	env, err := prepare(&tpl, def, payload, ec.id, ec.header)
	if err != nil {
		return Result{}, err
	}
	if err := p.Provision(ctx); err != nil {
		return Result{ID: env.ID}, err
	}
	spec := def.Spec()
	var debounced bool
	if ec.debounceSet {
		if debounced, err = p.debounce(ctx, env, spec, ec.debounce); err != nil {
			return Result{ID: env.ID}, err
		}
	}
	envs := []*tasks.Envelope{env}
	if err := p.timing(envs, spec, &ec, now); err != nil {
		return Result{ID: env.ID}, err
	}
	holder, publish, fresh, err := p.claim(ctx, env, spec, &ec, now)
	if err != nil {
		return Result{ID: env.ID}, err
	}
	if !publish {
		return Result{ID: holder, Duplicate: true}, nil
	}
	errs := p.enqueue(ctx, envs)
	// A key this call took goes back if nothing was stored, or if the
	// server dropped the task as a duplicate of one that ran already
	// (that one released its key when it settled).
	if fresh && (errs[0] != nil && notStored(errs[0]) || errs[0] == nil && env.Duplicate) {
		p.unclaim(ctx, env, spec, &ec)
	}
	p.recordQueued(ctx, spec, envs, errs)
	r := result(env, errs[0])
	r.Debounced = debounced && r.Err == nil
	return r, r.Err
}

// EnqueueBatch validates and encodes every payload, then publishes them as
// tasks of def asynchronously and awaits every acknowledgement. It returns one
// [Result] per payload, in order.
//
// A payload that does not validate or encode refuses the whole batch before
// anything is published, with an error that names its index and wraps
// tasks.ErrInvalidPayload. Otherwise the error is nil when every task was
// stored, or a [*BatchError] when some were not; their results carry the
// reason. Publishes that fail with a disconnect, a timeout, a leader
// election or a leader cut off from its peers are retried with the same ID,
// as [Enqueue] does.
//
// A large batch is published in slices of about half the async window
// ([WithAsyncWindow]), two at a time: while the server acknowledges one, the
// next is built and sent, so the connection does not idle between slices.
// Memory stays bounded by the window rather than the batch: only the encoded
// payloads of the whole batch are held. The tasks are sent in the batch's
// order; those a failure made the producer publish again come later. Enqueue
// middleware sees one call per slice, each begun once the slice before has
// sent its tasks, so two may be running at once; a panic in one stops the
// batch and is raised again here. If ctx ends part-way, the slices not yet
// begun are not published and their results carry ctx's error.
func EnqueueBatch[T any](ctx context.Context, p *Producer, def tasks.Def[T], payloads []T, opts ...EnqueueOption) ([]Result, error) {
	now := time.Now()
	ec, err := enqueueOptions(opts, true, len(payloads), now)
	if err != nil {
		return nil, err
	}
	tpl, err := template(p, def, now)
	if err != nil {
		return nil, err
	}
	if err := ec.callbacksOf(def); err != nil {
		return nil, err
	}
	bodies := make([][]byte, len(payloads))
	for i, v := range payloads {
		if bodies[i], err = def.Encode(v); err != nil {
			return nil, fmt.Errorf("producer: task %d of %d: %w", i, len(payloads), err)
		}
	}
	if len(bodies) == 0 {
		return nil, nil
	}
	if err := p.Provision(ctx); err != nil {
		return nil, err
	}
	results := make([]Result, len(bodies))
	spec := def.Spec()
	build := func(lo, hi int) ([]*tasks.Envelope, error) {
		var ids []string
		if ec.ids != nil {
			ids = ec.ids[lo:hi]
		}
		envs := tpl.Envelopes(ids, bodies[lo:hi])
		for _, env := range envs {
			addHeader(env, ec.header)
		}
		return envs, p.timing(envs, spec, &ec, now)
	}
	settled := func(lo int, envs []*tasks.Envelope, errs []error) {
		for i, env := range envs {
			results[lo+i] = result(env, errs[i])
		}
		clear(bodies[lo : lo+len(envs)]) // published: let them go
	}
	if err := p.publishSlices(ctx, spec, len(bodies), build, settled); err != nil {
		return nil, err
	}
	return results, newBatchError(results)
}

// enqueueOptions applies and validates opts. Without options, the common
// case, it returns the zero configuration, which is valid, as it is: ec
// escapes to the heap once an option function sees it, and that would be
// an allocation of the whole configuration on every call.
func enqueueOptions(opts []EnqueueOption, batch bool, n int, now time.Time) (enqueueConfig, error) {
	if len(opts) == 0 {
		return enqueueConfig{}, nil
	}
	var ec enqueueConfig
	for _, opt := range opts {
		opt(&ec)
	}
	if err := ec.validate(batch, n, now); err != nil {
		return ec, err
	}
	if ec.keySet {
		if ec.header == nil {
			ec.header = tasks.Header{}
		}
		ec.header[tasks.HeaderKey] = []string{ec.key}
	}
	return ec, nil
}

// template validates def once for a call and prepares what its tasks,
// enqueued at now, share.
func template[T any](p *Producer, def tasks.Def[T], now time.Time) (wire.Template, error) {
	if err := def.Check(); err != nil {
		return wire.Template{}, fmt.Errorf("producer: %w", err)
	}
	return wire.NewTemplate(p.cfg.names, def.Spec(), now), nil
}

// prepare validates and encodes one task; nothing is published yet.
func prepare[T any](tpl *wire.Template, def tasks.Def[T], payload T, id string, header tasks.Header) (*tasks.Envelope, error) {
	body, err := def.Encode(payload)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	env := tpl.Envelope(id, body)
	addHeader(env, header)
	return env, nil
}

// addHeader copies the WithHeader values into env's header.
func addHeader(env *tasks.Envelope, header tasks.Header) {
	for k, v := range header {
		env.Header[k] = append([]string(nil), v...)
	}
}

// recordQueued records the tasks just stored as queued, for definitions with
// state tracking. The record is advisory: a failure is logged, not returned,
// since the tasks are enqueued either way.
func (p *Producer) recordQueued(ctx context.Context, spec tasks.Spec, envs []*tasks.Envelope, errs []error) {
	if !spec.TrackState {
		return
	}
	for i, env := range envs {
		if errs[i] != nil || env.Duplicate {
			continue
		}
		if err := p.states.Queued(ctx, statusstore.Of(env)); err != nil {
			p.cfg.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot record task state",
				slog.String("task_id", env.ID), slog.String("error", err.Error()))
			return
		}
	}
}

func result(env *tasks.Envelope, err error) Result {
	r := Result{ID: env.ID, Err: err}
	if err == nil {
		r.Stream, r.Sequence, r.Duplicate = env.Stream, env.Sequence, env.Duplicate
	}
	return r
}
