package unique

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// ErrUnsupported is returned when the server has no per-key TTLs.
var ErrUnsupported = errors.New("unique keys need nats-server 2.11 or newer (per-key TTLs)")

// Store claims and releases unique keys. It opens (and creates) the bucket
// on first use and is safe for concurrent use.
type Store struct {
	bucket *provision.Bucket
}

// New returns a store for the unique-key bucket of topo; it does no I/O.
func New(js jetstream.JetStream, topo topology.Topology) *Store {
	return &Store{bucket: provision.NewBucket(js, wire.UniqueBucketConfig(topo))}
}

func (s *Store) open(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := s.bucket.Open(ctx, true)
	if errors.Is(err, jetstream.ErrLimitMarkerTTLNotSupported) {
		return nil, ErrUnsupported
	}
	if err != nil {
		return nil, fmt.Errorf("unique-key bucket %s: %w", s.bucket.Name(), err)
	}
	return kv, nil
}

// Claim takes key of spec's tasks for task id, for at most ttl. If another
// task holds it, Claim returns that task's ID and false.
func (s *Store) Claim(ctx context.Context, spec tasks.Spec, key, id string, ttl time.Duration) (string, bool, error) {
	kv, err := s.open(ctx)
	if err != nil {
		return "", false, err
	}
	k := wire.UniqueKey(spec, key)
	for range 8 {
		_, err := kv.Create(ctx, k, []byte(id), jetstream.KeyTTL((ttl+time.Second-1)/time.Second*time.Second))
		if err == nil {
			return id, true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return "", false, err
		}
		e, err := kv.Get(ctx, k)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
			continue // released meanwhile: claim again
		case err != nil:
			return "", false, err
		}
		return string(e.Value()), false, nil
	}
	return "", false, errors.New("claimed and released concurrently again and again")
}

// Release gives key back if task id still holds it. The marker that
// records the release expires after a second, so released keys do not
// accumulate.
func (s *Store) Release(ctx context.Context, spec tasks.Spec, key, id string) error {
	kv, err := s.open(ctx)
	if err != nil {
		return err
	}
	k := wire.UniqueKey(spec, key)
	e, err := kv.Get(ctx, k)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		return nil
	case err != nil:
		return err
	case string(e.Value()) != id:
		return nil // another task's now
	}
	err = kv.Purge(ctx, k, jetstream.LastRevision(e.Revision()), jetstream.PurgeTTL(time.Second))
	if err != nil && provision.WrongLast(err) {
		return nil // changed meanwhile: no longer ours
	}
	return err
}
