package deadletter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// Filer files dead-letter records. It is safe for concurrent use; it opens
// the dead-letter stream and the objects bucket on first need.
type Filer struct {
	js    jetstream.JetStream
	topo  topology.Topology
	names wire.Names
	log   *slog.Logger

	mu      sync.Mutex
	dlq     jetstream.Stream
	objects jetstream.ObjectStore
}

// New returns a filer for the streams of topo, logging to log the streams
// it makes again; it does no I/O.
func New(js jetstream.JetStream, topo topology.Topology, log *slog.Logger) *Filer {
	return &Filer{js: js, topo: topo, names: wire.NamesOf(topo), log: log}
}

// Limits are the sizes a record must keep: the server's header limit, the
// connection's max_payload and the dead-letter stream's max message size.
func (f *Filer) Limits(ctx context.Context) wire.Limits {
	lim := wire.Limits{Header: wire.MaxHeaderBytes, Payload: int(f.js.Conn().MaxPayload())}
	if s, err := f.stream(ctx); err == nil {
		if m := int(s.CachedInfo().Config.MaxMsgSize); m > 0 && (lim.Payload <= 0 || m < lim.Payload) {
			lim.Payload = m
		}
	}
	return lim
}

// Record builds the record of the original message (h, data) that failed
// as fail says, within [Filer.Limits].
func (f *Filer) Record(ctx context.Context, queue, name string, h nats.Header, data []byte, fail wire.Failure) *nats.Msg {
	return wire.DeadLetter(f.names, queue, name, h, data, fail, f.Limits(ctx))
}

// File stores rec, built by [Filer.Record] from the original message (h,
// data), and returns the acknowledgement of the stored record. A truncated
// record's original is stored first, so a record never points at nothing.
//
// A duplicate acknowledgement is checked against the record stored at its
// sequence: when that record is gone or is another one (the dead-letter
// stream remembers the ID of a record that was replayed or deleted since),
// rec is filed again under an ID of its own, so the task is never dropped as
// a duplicate of something that no longer keeps it.
func (f *Filer) File(ctx context.Context, rec *nats.Msg, h nats.Header, data []byte) (*jetstream.PubAck, error) {
	if name := wire.Original(rec.Header); name != "" {
		if err := f.storeOriginal(ctx, name, h, data); err != nil {
			return nil, err
		}
	}
	ack, err := f.publish(ctx, rec)
	if err != nil || !ack.Duplicate {
		return ack, err
	}
	same, err := f.stored(ctx, ack.Sequence, rec.Header.Get(wire.HeaderMsgID))
	if err != nil || same != nil {
		return ack, err
	}
	again := &nats.Msg{Subject: rec.Subject, Header: nats.Header{}, Data: rec.Data}
	for k, v := range rec.Header {
		again.Header[k] = v
	}
	again.Header.Set(wire.HeaderMsgID, rec.Header.Get(wire.HeaderMsgID)+":"+wire.NewID())
	return f.publish(ctx, again)
}

func (f *Filer) publish(ctx context.Context, rec *nats.Msg) (*jetstream.PubAck, error) {
	ack, err := f.js.PublishMsg(ctx, rec)
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		// No stream takes the subject: the dead-letter stream was deleted.
		if _, eerr := provision.Ensure(ctx, f.js, f.topo, f.log); eerr == nil {
			ack, err = f.js.PublishMsg(ctx, rec)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("file record on %s: %w", rec.Subject, err)
	}
	if want := f.names.DLQStream(); ack.Stream != want {
		// The task's deletion would leave it only in a stream jetq does not read.
		return nil, fmt.Errorf("file record on %s: stored by stream %s, not %s", rec.Subject, ack.Stream, want)
	}
	return ack, nil
}

// stored returns the record at seq if its Nats-Msg-Id is id, and nil if
// it is gone or is another one.
func (f *Filer) stored(ctx context.Context, seq uint64, id string) (*jetstream.RawStreamMsg, error) {
	s, err := f.stream(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read back record %d: %w", seq, err)
	}
	if m.Header.Get(wire.HeaderMsgID) != id {
		return nil, nil
	}
	return m, nil
}

func (f *Filer) stream(ctx context.Context) (jetstream.Stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dlq != nil {
		return f.dlq, nil
	}
	s, err := f.js.Stream(ctx, f.names.DLQStream())
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream: %w", err)
	}
	f.dlq = s
	return s, nil
}

func (f *Filer) storeOriginal(ctx context.Context, name string, h nats.Header, data []byte) error {
	b, err := wire.EncodeOriginal(h, data)
	if err != nil {
		return err
	}
	obs, err := f.bucket(ctx)
	if err != nil {
		return err
	}
	if _, err := obs.PutBytes(ctx, name, b); err != nil {
		return fmt.Errorf("store original of record %s: %w", name, err)
	}
	return nil
}

// bucket opens the objects bucket, creating it if it is missing.
func (f *Filer) bucket(ctx context.Context) (jetstream.ObjectStore, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.objects != nil {
		return f.objects, nil
	}
	obs, err := OpenObjects(ctx, f.js, f.topo, true)
	if err != nil {
		return nil, err
	}
	f.objects = obs
	return obs, nil
}

// OpenObjects opens the bucket of truncated records' originals. With create
// it creates a missing bucket; without, a missing one is
// jetstream.ErrBucketNotFound.
func OpenObjects(ctx context.Context, js jetstream.JetStream, topo topology.Topology, create bool) (jetstream.ObjectStore, error) {
	cfg := wire.DLQObjectsConfig(topo)
	obs, err := js.ObjectStore(ctx, cfg.Bucket)
	if create && errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			obs, err = js.ObjectStore(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dead-letter objects %s: %w", cfg.Bucket, err)
	}
	return obs, nil
}
