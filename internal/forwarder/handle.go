package forwarder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// Advisory types of the events the forwarder reads.
const (
	typeMaxDeliver = "io.nats.jetstream.advisory.v1.max_deliver"
	typeTerminated = "io.nats.jetstream.advisory.v1.terminated"
)

// clockMargin absorbs clock differences between the servers of a cluster
// when the advisory's time is compared with the message's.
const clockMargin = time.Minute

// advisory holds the fields of the events the forwarder reads.
type advisory struct {
	Type       string    `json:"type"`
	Time       time.Time `json:"timestamp"`
	Stream     string    `json:"stream"`
	Consumer   string    `json:"consumer"`
	StreamSeq  uint64    `json:"stream_seq"`
	Deliveries int       `json:"deliveries"`
	Reason     string    `json:"reason"`
}

// handle processes one event and settles it, unless the forwarder is
// stopping (the event goes back at once) or a hook simulated a crash (a dead
// process settles nothing).
func (f *Forwarder) handle(base context.Context, s *session, work jetstream.Stream, msg jetstream.Msg) {
	if s.isCrashed() {
		return
	}
	if s.stopping.Load() {
		_ = msg.Nak() // to another forwarder now rather than after the ack wait
		return
	}
	ctx, cancel := context.WithTimeout(base, opTimeout)
	defer cancel()

	var adv advisory
	if err := json.Unmarshal(msg.Data(), &adv); err != nil {
		// Reading it again will not help: acknowledged, never looped on.
		f.log.LogAttrs(ctx, slog.LevelWarn, "jetq: forwarder skips an event it cannot read",
			slog.String(keySubject, msg.Subject()), slog.String(keyError, err.Error()))
		f.settle(ctx, msg, msg.Ack())
		return
	}
	switch {
	case adv.Stream != f.names.WorkStream():
		f.log.LogAttrs(ctx, slog.LevelDebug, "jetq: forwarder skips an event of another stream",
			slog.String(keySubject, msg.Subject()), slog.String(keyStream, adv.Stream))
		f.settle(ctx, msg, msg.Ack())
	case adv.Type == typeTerminated:
		// The worker filed the record before its Term, and Term deleted
		// the task: there is nothing to forward, only to count.
		f.terminated.Add(1)
		f.log.LogAttrs(ctx, slog.LevelDebug, "jetq: task terminated by its worker",
			slog.Uint64(keySeq, adv.StreamSeq), slog.String(keyConsumer, adv.Consumer), slog.String(keyReason, adv.Reason))
		f.settle(ctx, msg, msg.Ack())
	case adv.Type == typeMaxDeliver && adv.StreamSeq != 0:
		err := f.forward(ctx, work, adv)
		switch {
		case errors.Is(err, ErrCrash):
			s.crash()
		case err != nil:
			delay := nakDelay(msg)
			f.log.LogAttrs(ctx, slog.LevelWarn, "jetq: forwarder could not file a record; will try again",
				slog.Uint64(keySeq, adv.StreamSeq), slog.Duration(keyDelay, delay), slog.String(keyError, err.Error()))
			f.settle(ctx, msg, msg.NakWithDelay(delay))
		default:
			f.settle(ctx, msg, msg.Ack())
		}
	default:
		f.log.LogAttrs(ctx, slog.LevelWarn, "jetq: forwarder skips an event it does not handle",
			slog.String(keySubject, msg.Subject()), slog.String("type", adv.Type), slog.Uint64(keySeq, adv.StreamSeq))
		f.settle(ctx, msg, msg.Ack())
	}
}

// settle logs a failed acknowledgement; the server redelivers the event and
// its processing is idempotent.
func (f *Forwarder) settle(ctx context.Context, msg jetstream.Msg, err error) {
	if err != nil {
		f.log.LogAttrs(ctx, slog.LevelDebug, "jetq: forwarder cannot settle an event; it will come again",
			slog.String(keySubject, msg.Subject()), slog.String(keyError, err.Error()))
	}
}

// nakDelay is the wait before an event that failed is tried again: 2 s,
// doubling with each delivery, at most a minute.
func nakDelay(msg jetstream.Msg) time.Duration {
	n := uint64(1)
	if md, err := msg.Metadata(); err == nil && md.NumDelivered > 0 {
		n = md.NumDelivered
	}
	d := 2 * time.Second << min(n-1, 5)
	return min(d, time.Minute)
}

// forward files the record of the message at adv.StreamSeq and then deletes
// the message. A message already gone was handled before: nothing to do.
func (f *Forwarder) forward(ctx context.Context, work jetstream.Stream, adv advisory) error {
	names := f.names
	raw, err := work.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		f.log.LogAttrs(ctx, slog.LevelDebug, "jetq: forwarder finds the task filed and deleted already", slog.Uint64(keySeq, adv.StreamSeq))
		return nil
	}
	if err != nil {
		return fmt.Errorf("read task %d: %w", adv.StreamSeq, err)
	}
	if !adv.Time.IsZero() && raw.Time.After(adv.Time.Add(clockMargin)) {
		// Sequences are never reused by a stream, only by a new stream of
		// the same name: this is another task, alive.
		f.log.LogAttrs(ctx, slog.LevelWarn, "jetq: forwarder leaves alone a task stored after the advisory about its sequence; was the work stream recreated?",
			slog.Uint64(keySeq, adv.StreamSeq), slog.Time("advised_at", adv.Time), slog.Time("stored_at", raw.Time))
		return nil
	}
	queue, name, err := names.ParseTaskSubject(raw.Subject)
	if err != nil {
		queue, name = "_unknown", "_unknown" // keep it anyway: never lose a task
	}
	reason := fmt.Sprintf("the server gave up after %d deliveries without an acknowledgement (consumer %s): the worker died or hung on the last attempt",
		adv.Deliveries, adv.Consumer)
	rec := f.filer.Record(ctx, queue, name, raw.Header, raw.Data, wire.Failure{
		Reason:     tasks.ReasonMaxDeliveries,
		Error:      reason,
		Stream:     adv.Stream,
		Seq:        adv.StreamSeq,
		Subject:    raw.Subject,
		StoredAt:   raw.Time,
		Deliveries: adv.Deliveries,
		At:         time.Now(),
	})
	ack, err := f.filer.File(ctx, rec, raw.Header, raw.Data)
	if err != nil {
		return err
	}
	if h := f.cfg.Hooks.AfterPublish; h != nil {
		if err := h(); err != nil {
			return err
		}
	}
	id := rec.Header.Get(wire.HeaderID)
	if err := f.recordFinal(ctx, adv, raw, id, reason); err != nil {
		return fmt.Errorf("record status of task %s: %w", id, err)
	}
	if err := f.follow(ctx, raw, adv, queue, name, reason); err != nil {
		return err
	}
	if err := work.DeleteMsg(ctx, adv.StreamSeq); err != nil && !retry.Gone(err) {
		return fmt.Errorf("delete task %d: %w", adv.StreamSeq, err)
	}
	if key := raw.Header.Get(wire.HeaderUnique); key != "" {
		spec := tasks.Spec{Queue: queue, Name: name}
		if err := f.unique.Release(ctx, spec, key, wire.TaskID(tasks.Header(raw.Header), adv.Stream, adv.StreamSeq)); err != nil {
			f.log.LogAttrs(ctx, slog.LevelWarn, "jetq: forwarder cannot release unique key; its TTL will",
				slog.String("unique_key", key), slog.String("error", err.Error()))
		}
	}
	f.filed.Add(1)
	level := slog.LevelWarn
	if ack.Duplicate {
		level = slog.LevelInfo // filed before, by the worker or by a forwarder that crashed
	}
	f.log.LogAttrs(ctx, level, "jetq: task dead-lettered by the forwarder",
		slog.String(keyTask, name), slog.String(keyQueue, queue), slog.String(keyID, id),
		slog.Uint64(keySeq, adv.StreamSeq), slog.Int(keyDeliveries, adv.Deliveries), slog.Bool("already_filed", ack.Duplicate))
	return nil
}
