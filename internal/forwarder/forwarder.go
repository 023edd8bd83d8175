package forwarder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// Durable is the name of the consumer all forwarders share on the events stream.
const Durable = "jetq-forwarder"

// Advisory types of the events the forwarder reads.
const (
	typeMaxDeliver = "io.nats.jetstream.advisory.v1.max_deliver"
	typeTerminated = "io.nats.jetstream.advisory.v1.terminated"
)

// ErrCrash is what a hook returns to make the forwarder stop as if its
// process died at that point: no further step, no acknowledgement.
var ErrCrash = errors.New("forwarder: simulated crash")

// Hooks let tests inject faults between the steps of filing a record. A
// real component cannot crash between two of its own statements on demand.
type Hooks struct {
	// AfterPublish runs once the record is stored and before the task is
	// deleted from the work stream.
	AfterPublish func() error
}

// Forwarder files the records of tasks the server gave up on.
type Forwarder struct {
	js    jetstream.JetStream
	topo  wire.Topology
	log   *slog.Logger
	hooks Hooks

	filed, terminated atomic.Int64
}

// New returns a forwarder; it does no I/O.
func New(js jetstream.JetStream, topo wire.Topology, log *slog.Logger, hooks Hooks) *Forwarder {
	return &Forwarder{js: js, topo: topo, log: log, hooks: hooks}
}

// Filed is how many records this forwarder has filed (or found filed).
func (f *Forwarder) Filed() int64 { return f.filed.Load() }

// Run provisions the streams, then forwards until ctx ends (returning nil)
// or a hook simulates a crash (returning [ErrCrash]). It recovers by itself
// from a deleted consumer or a dropped connection.
func (f *Forwarder) Run(ctx context.Context) error {
	bo := retry.New(200*time.Millisecond, 10*time.Second, 0)
	for {
		if _, err := f.topo.Ensure(ctx, f.js, f.log); err == nil {
			break
		} else if ctx.Err() != nil {
			return nil
		} else {
			f.log.LogAttrs(ctx, slog.LevelWarn, "jetq: forwarder cannot provision streams yet; retrying", slog.String("error", err.Error()))
		}
		if bo.Wait(ctx) != nil {
			return nil
		}
	}
	work, err := f.js.Stream(ctx, f.topo.Names.WorkStream())
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("forwarder: %w", err)
	}
	crashed := make(chan struct{})
	var crashOnce atomic.Bool
	crash := func() {
		if crashOnce.CompareAndSwap(false, true) {
			close(crashed)
		}
	}
	bo.Reset()
	for ctx.Err() == nil {
		cc, err := f.consume(ctx, work, crash)
		if err != nil {
			f.log.LogAttrs(ctx, slog.LevelWarn, "jetq: forwarder cannot consume events yet; retrying", slog.String("error", err.Error()))
			if bo.Wait(ctx) != nil {
				return nil
			}
			continue
		}
		bo.Reset()
		select {
		case <-ctx.Done():
			cc.Drain()
			<-cc.Closed()
			return nil
		case <-crashed:
			cc.Stop()
			return ErrCrash
		case <-cc.Closed():
			if f.js.Conn().IsClosed() {
				return fmt.Errorf("forwarder: %w", nats.ErrConnectionClosed)
			}
			f.log.LogAttrs(ctx, slog.LevelWarn, "jetq: forwarder's consumer stopped; recreating it")
			if bo.Wait(ctx) != nil {
				return nil
			}
		}
	}
	return nil
}

func (f *Forwarder) consume(ctx context.Context, work jetstream.Stream, crash func()) (jetstream.ConsumeContext, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cons, err := f.js.CreateOrUpdateConsumer(cctx, f.topo.Names.EventsStream(), jetstream.ConsumerConfig{
		Durable:     Durable,
		Description: "jetq dead-letter forwarder, shared by every forwarder",
		AckPolicy:   jetstream.AckExplicitPolicy,
		AckWait:     30 * time.Second,
		Replicas:    max(f.topo.Replicas, 1),
	})
	if err != nil {
		return nil, err
	}
	return cons.Consume(func(msg jetstream.Msg) {
		if err := f.handle(ctx, work, msg); errors.Is(err, ErrCrash) {
			crash()
		}
	}, jetstream.PullMaxMessages(16), jetstream.PullExpiry(5*time.Second))
}

// advisory holds the fields of the events the forwarder reads.
type advisory struct {
	Type       string `json:"type"`
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries int    `json:"deliveries"`
	Reason     string `json:"reason"`
}

// handle processes one event; it settles the event itself.
func (f *Forwarder) handle(ctx context.Context, work jetstream.Stream, msg jetstream.Msg) error {
	var adv advisory
	if err := json.Unmarshal(msg.Data(), &adv); err != nil || adv.StreamSeq == 0 {
		f.log.LogAttrs(ctx, slog.LevelWarn, "jetq: forwarder skips an event it cannot read", slog.String("subject", msg.Subject()))
		return msg.Term() // reading it again will not help
	}
	if adv.Stream != f.topo.Names.WorkStream() {
		return msg.Ack()
	}
	switch adv.Type {
	case typeTerminated:
		f.terminated.Add(1)
		f.log.LogAttrs(ctx, slog.LevelDebug, "jetq: task terminated by its worker",
			slog.Uint64("seq", adv.StreamSeq), slog.String("reason", adv.Reason))
		return msg.Ack()
	case typeMaxDeliver:
		err := f.forward(ctx, work, adv)
		switch {
		case errors.Is(err, ErrCrash):
			return err
		case err != nil:
			f.log.LogAttrs(ctx, slog.LevelWarn, "jetq: forwarder could not file a record; will try again",
				slog.Uint64("seq", adv.StreamSeq), slog.String("error", err.Error()))
			return msg.NakWithDelay(2 * time.Second)
		}
		return msg.Ack()
	}
	return msg.Ack()
}

// forward files the record of the message at adv.StreamSeq and deletes the
// message. A message already gone was handled before: nothing to do.
func (f *Forwarder) forward(ctx context.Context, work jetstream.Stream, adv advisory) error {
	raw, err := work.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read task %d: %w", adv.StreamSeq, err)
	}
	queue, name, err := f.topo.Names.ParseTaskSubject(raw.Subject)
	if err != nil {
		queue, name = "_unknown", "_unknown" // keep it anyway: never lose a task
	}
	rec := wire.DeadLetter(f.topo.Names, queue, name, raw.Header, raw.Data, wire.Failure{
		Reason: tasks.ReasonMaxDeliveries,
		Error: fmt.Sprintf("the server gave up after %d deliveries without an acknowledgement (consumer %s): the worker died or hung on the last attempt",
			adv.Deliveries, adv.Consumer),
		Stream:     adv.Stream,
		Seq:        adv.StreamSeq,
		Subject:    raw.Subject,
		Deliveries: adv.Deliveries,
		At:         time.Now(),
	})
	ack, err := f.js.PublishMsg(ctx, rec)
	if err != nil {
		return fmt.Errorf("file record: %w", err)
	}
	if f.hooks.AfterPublish != nil {
		if err := f.hooks.AfterPublish(); err != nil {
			return err
		}
	}
	if err := work.DeleteMsg(ctx, adv.StreamSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) &&
		!strings.Contains(err.Error(), "no message found") {
		return fmt.Errorf("delete task %d: %w", adv.StreamSeq, err)
	}
	f.filed.Add(1)
	level := slog.LevelWarn
	if ack.Duplicate {
		level = slog.LevelInfo // the record was filed before, by a worker or a crashed forwarder
	}
	f.log.LogAttrs(ctx, level, "jetq: task dead-lettered by the forwarder",
		slog.String("task", name), slog.String("queue", queue), slog.String("task_id", rec.Header.Get(wire.HeaderID)),
		slog.Uint64("seq", adv.StreamSeq), slog.Int("deliveries", adv.Deliveries), slog.Bool("already_filed", ack.Duplicate))
	return nil
}
