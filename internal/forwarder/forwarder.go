package forwarder

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
	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/internal/unique"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// Durable is the name of the consumer all forwarders share on the events stream.
const Durable = "jetq-forwarder"

// DefaultAckWait is how long an event may stay unsettled before the server
// hands it to another forwarder: ample for the three requests one event
// takes, and the delay after which a crashed forwarder's event is redone.
const DefaultAckWait = 30 * time.Second

// opTimeout bounds each request the forwarder makes.
const opTimeout = 10 * time.Second

// ErrCrash is what a hook returns to make the forwarder stop as if its
// process died at that point: no further step, no settlement of the event
// or of the events buffered behind it.
var ErrCrash = errors.New("forwarder: simulated crash")

// Hooks let tests inject faults between the steps of filing a record. A
// real component cannot crash between two of its own statements on demand.
type Hooks struct {
	// AfterPublish runs once the record is stored and before the task is
	// deleted from the work stream. Returning [ErrCrash] stops the
	// forwarder there.
	AfterPublish func() error
}

// Config is what a [Forwarder] works with. Zero fields take defaults.
type Config struct {
	// Topology names the streams; its Replicas and Memory apply to the
	// streams the forwarder creates when they are missing.
	Topology topology.Topology
	// States records what the forwarder files for tracked tasks; nil
	// records nothing.
	States *statusstore.Store
	// Flow runs the follow-ups (callbacks, workflow bookkeeping) of the
	// tasks the forwarder dead-letters; nil makes one.
	Flow *flow.Runner
	// Log receives the forwarder's lines; nil means slog.Default().
	Log *slog.Logger
	// Provisioned says the caller has created the streams already, so Run
	// does not (a worker provisions them before it starts its forwarder).
	Provisioned bool
	// AckWait of the shared durable, default [DefaultAckWait]. Forwarders
	// of one deployment must agree: each one sets it on the durable.
	AckWait time.Duration
	// Hooks inject faults, for tests.
	Hooks Hooks
}

// Forwarder files the records of tasks the server gave up on. Its methods
// are safe for concurrent use.
type Forwarder struct {
	js     jetstream.JetStream
	cfg    Config
	names  wire.Names
	log    *slog.Logger
	filer  *deadletter.Filer
	states *statusstore.Store
	unique *unique.Store

	filed, terminated atomic.Int64
}

// New returns a forwarder; it does no I/O.
func New(js jetstream.JetStream, cfg Config) *Forwarder {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.Flow == nil {
		cfg.Flow = flow.New(js, cfg.Topology, cfg.Log)
	}
	return &Forwarder{js: js, cfg: cfg, names: wire.NamesOf(cfg.Topology), log: cfg.Log,
		filer: deadletter.New(js, cfg.Topology, cfg.Log), states: cfg.States,
		unique: unique.New(js, cfg.Topology)}
}

// Filed is how many max-deliveries events this forwarder has turned into a
// record, counting those whose record a worker or an earlier attempt had
// filed already.
func (f *Forwarder) Filed() int64 { return f.filed.Load() }

// Terminated is how many terminated-task events this forwarder has seen.
func (f *Forwarder) Terminated() int64 { return f.terminated.Load() }

// Run provisions the streams (unless Config.Provisioned), then forwards
// until ctx ends and returns nil. It recovers by itself from a deleted
// consumer, a dropped connection and requests that time out. It returns
// [ErrCrash] when a hook simulates a crash, an error wrapping
// nats.ErrConnectionClosed when the connection is closed under it, and the
// provisioning error when the streams cannot be used as they are.
func (f *Forwarder) Run(ctx context.Context) error {
	if !f.cfg.Provisioned {
		if err := f.provision(ctx); err != nil {
			return err
		}
	}
	sctx, stopSentinels := context.WithCancel(ctx)
	var sentinels sync.WaitGroup
	sentinels.Go(func() { f.sentinels(sctx) })
	defer func() {
		stopSentinels()
		sentinels.Wait()
	}()
	bo := retry.New(200*time.Millisecond, 10*time.Second, 0)
	started, recovering := false, false
	for ctx.Err() == nil {
		s, err := f.start(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if f.js.Conn().IsClosed() {
				return nats.ErrConnectionClosed
			}
			f.log.LogAttrs(ctx, slog.LevelWarn, "jetq: forwarder cannot consume events yet; retrying", slog.String(keyError, err.Error()))
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				// Deleted under us: from now on, advisories need it again.
				_, _ = provision.Ensure(ctx, f.js, f.cfg.Topology, f.log)
			}
			recovering = true
			if bo.Wait(ctx) != nil {
				return nil
			}
			continue
		}
		switch {
		case !started:
			f.log.LogAttrs(ctx, slog.LevelInfo, "jetq: dead-letter forwarder started", slog.String(keyConsumer, Durable))
			started = true
		case recovering:
			f.log.LogAttrs(ctx, slog.LevelInfo, "jetq: forwarder consuming events again")
		}
		recovering = false
		bo.Reset()
		select {
		case <-ctx.Done():
			// Events still buffered are handed back at once (see handle).
			s.stopping.Store(true)
			s.cc.Drain()
			<-s.cc.Closed()
			f.log.LogAttrs(ctx, slog.LevelInfo, "jetq: dead-letter forwarder stopped", slog.Int64("filed", f.Filed()))
			return nil
		case <-s.crashed:
			s.cc.Stop()
			<-s.cc.Closed()
			return ErrCrash
		case <-s.cc.Closed():
			if ctx.Err() != nil {
				return nil
			}
			if f.js.Conn().IsClosed() {
				return nats.ErrConnectionClosed
			}
			f.log.LogAttrs(ctx, slog.LevelWarn, "jetq: forwarder's consumer stopped; recreating it")
			recovering = true
			if bo.Wait(ctx) != nil {
				return nil
			}
		}
	}
	return nil
}

// provision creates the streams, retrying what a retry can fix. It returns
// nil when ctx ends first.
func (f *Forwarder) provision(ctx context.Context) error {
	_, err := provision.Streams(ctx, f.js, f.cfg.Topology, f.log, 0)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// session is one Consume on the shared durable.
type session struct {
	cc jetstream.ConsumeContext
	// stopping makes the handler hand events back instead of processing them.
	stopping atomic.Bool
	// crashed is closed when a hook simulates a crash.
	crashed   chan struct{}
	crashOnce sync.Once
}

func (s *session) crash() { s.crashOnce.Do(func() { close(s.crashed) }) }

func (s *session) isCrashed() bool {
	select {
	case <-s.crashed:
		return true
	default:
		return false
	}
}

// start creates or updates the shared durable and starts consuming it.
func (f *Forwarder) start(ctx context.Context) (*session, error) {
	names := f.names
	rctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	events, err := f.js.Stream(rctx, names.EventsStream())
	if err != nil {
		return nil, fmt.Errorf("events stream %s: %w", names.EventsStream(), err)
	}
	work, err := f.js.Stream(rctx, names.WorkStream())
	if err != nil {
		return nil, fmt.Errorf("work stream %s: %w", names.WorkStream(), err)
	}
	cons, err := events.CreateOrUpdateConsumer(rctx, jetstream.ConsumerConfig{
		Durable:     Durable,
		Description: "jetq dead-letter forwarder, shared by every forwarder",
		AckPolicy:   jetstream.AckExplicitPolicy,
		AckWait:     f.cfg.AckWait,
		MaxDeliver:  -1, // an event is retried until its task is filed
		// The stream's replicas, whoever created it and however.
		Replicas: events.CachedInfo().Config.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", Durable, err)
	}
	s := &session{crashed: make(chan struct{})}
	// An event being filed when Run's ctx ends is finished, not abandoned
	// halfway: a half-done event is redone only after the ack wait.
	base := context.WithoutCancel(ctx)
	s.cc, err = cons.Consume(
		func(msg jetstream.Msg) { f.handle(base, s, work, msg) },
		jetstream.PullMaxMessages(16),
		jetstream.PullExpiry(5*time.Second),
		jetstream.ConsumeErrHandler(func(cc jetstream.ConsumeContext, err error) {
			level := slog.LevelWarn
			switch {
			case errors.Is(err, jetstream.ErrNoHeartbeat):
				level = slog.LevelDebug // the client pulls again by itself
			case errors.Is(err, nats.ErrNoResponders):
				cc.Stop() // nobody leads the consumer: start over now
			}
			f.log.LogAttrs(ctx, level, "jetq: forwarder's consumer reported an error", slog.String(keyError, err.Error()))
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", Durable, err)
	}
	return s, nil
}
