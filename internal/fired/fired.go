package fired

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/wire"
)

// Store claims fired tasks by ID in the bucket [wire.Topology.FiredBucket].
// It opens (and creates) the bucket on first use and is safe for concurrent
// use.
type Store struct {
	js   jetstream.JetStream
	topo wire.Topology

	mu sync.Mutex
	kv jetstream.KeyValue
}

// New returns a store for the bucket of topo; it does no I/O.
func New(js jetstream.JetStream, topo wire.Topology) *Store { return &Store{js: js, topo: topo} }

func (s *Store) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv != nil {
		return s.kv, nil
	}
	cfg := s.topo.FiredBucket()
	kv, err := s.js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = s.js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = s.js.KeyValue(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fired-task bucket %s: %w", cfg.Bucket, err)
	}
	s.kv = kv
	return kv, nil
}

// Claim decides whether the delivery of the fired task id stored at seq in
// the work stream runs. firing tells one firing of id from another (a
// delayed task enqueued again with the same ID fires again, and that runs;
// see wire.Firing). Claim returns true for the first delivery of a firing
// and for redeliveries of that one message (the same seq), and false for
// any other copy of the same firing.
func (s *Store) Claim(ctx context.Context, id, firing string, seq uint64) (bool, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return false, err
	}
	key := wire.FiredKey(id, firing)
	claim := strconv.FormatUint(seq, 10)
	for range 8 {
		_, err := kv.Create(ctx, key, []byte(claim))
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return false, err
		}
		e, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
			continue // expired meanwhile: claim again
		case err != nil:
			return false, err
		}
		// The same message again runs; another copy does not.
		return string(e.Value()) == claim, nil
	}
	return false, errors.New("fired task claimed and expired again and again")
}
