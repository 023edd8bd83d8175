package cancels

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// Store writes and watches cancel records. It opens (and creates) the
// bucket on first use and is safe for concurrent use.
type Store struct {
	js     jetstream.JetStream
	bucket *provision.Bucket
}

// New returns a store for the cancel bucket of topo; it does no I/O.
func New(js jetstream.JetStream, topo topology.Topology) *Store {
	return &Store{js: js, bucket: provision.NewBucket(js, wire.CancelBucketConfig(topo))}
}

// Open opens the bucket, creating it when create is set.
func (s *Store) Open(ctx context.Context, create bool) (jetstream.KeyValue, error) {
	kv, err := s.bucket.Open(ctx, create)
	if err != nil {
		return nil, fmt.Errorf("cancel bucket %s: %w", s.bucket.Name(), err)
	}
	return kv, nil
}

// Put stores the cancel record c. A record of the task stored already is
// kept, and Put returns nil: cancelling twice is cancelling once.
func (s *Store) Put(ctx context.Context, c wire.Cancel) error {
	kv, err := s.Open(ctx, true)
	if err != nil {
		return err
	}
	_, err = kv.Create(ctx, wire.CancelKey(c.Queue, c.Task, c.ID), c.Encode())
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("cancel record of task %q: %w", c.ID, err)
	}
	return nil
}

// Find returns the cancel record of task id, and false when it has none
// (never cancelled, or longer ago than wire.CancelWindow).
func (s *Store) Find(ctx context.Context, id string) (wire.Cancel, bool, error) {
	st, err := s.js.Stream(ctx, "KV_"+s.bucket.Name())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return wire.Cancel{}, false, nil
	}
	if err != nil {
		return wire.Cancel{}, false, fmt.Errorf("cancel bucket %s: %w", s.bucket.Name(), err)
	}
	m, err := st.GetLastMsgForSubject(ctx, "$KV."+s.bucket.Name()+"."+wire.CancelKeyFilter(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return wire.Cancel{}, false, nil
	}
	if err != nil {
		return wire.Cancel{}, false, fmt.Errorf("cancel record of task %q: %w", id, err)
	}
	c, err := wire.DecodeCancel(m.Data)
	if err != nil {
		return wire.Cancel{}, false, err
	}
	return c, true, nil
}

// Watch watches every record, the stored ones first and then each one
// put, until ctx ends; see jetstream.KeyValue.WatchAll. The bucket is
// created if it is missing.
func (s *Store) Watch(ctx context.Context) (jetstream.KeyWatcher, error) {
	kv, err := s.Open(ctx, true)
	if err != nil {
		return nil, err
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch cancel bucket %s: %w", s.bucket.Name(), err)
	}
	return w, nil
}

// Counts returns how many records each task type has, keyed
// "<queue>.<name>": the tasks cancelled within wire.CancelWindow. With no
// bucket there are none. It reads the bucket's stream info, which lists
// one subject a record.
func (s *Store) Counts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	name := "KV_" + s.bucket.Name()
	st, err := s.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cancel bucket %s: %w", s.bucket.Name(), err)
	}
	if st.CachedInfo().State.Msgs == 0 {
		return out, nil
	}
	prefix := "$KV." + s.bucket.Name() + "."
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, fmt.Errorf("cancel bucket %s: %w", s.bucket.Name(), err)
	}
	for subj, n := range info.State.Subjects {
		if q, task, ok := wire.CancelKeyType(strings.TrimPrefix(subj, prefix)); ok {
			out[q+"."+task] += int(n)
		}
	}
	return out, nil
}
