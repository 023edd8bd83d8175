package provision

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is a key-value bucket opened on first use, the one way jetq's
// stores open theirs: unique keys, fired tasks, statuses and worker
// presence. It is safe for concurrent use.
type Bucket struct {
	js     jetstream.JetStream
	cfg    jetstream.KeyValueConfig
	leader bool // reads go to the stream's leader (see ReadFromLeader)

	mu sync.Mutex
	kv jetstream.KeyValue
}

// NewBucket returns the bucket cfg describes; it does no I/O.
func NewBucket(js jetstream.JetStream, cfg jetstream.KeyValueConfig) *Bucket {
	return &Bucket{js: js, cfg: cfg}
}

// ReadFromLeader makes b's reads go to its stream's leader, and returns b.
// A key-value bucket answers reads from any replica (its stream allows
// direct gets), and a replica may lag the writes acknowledged a moment
// before: through a follower, under load, several reads in a hundred right
// after a write returned the value before it (TestLeaderReadsSeeTheLastWrite).
// A bucket whose readers act on what another process has just written, as
// a workflow step acts on its parents' results, needs its reads to follow
// its writes. Open then turns direct gets off on the bucket's stream, also
// on one made without this, before it binds the bucket.
func (b *Bucket) ReadFromLeader() *Bucket {
	b.leader = true
	return b
}

// Name is the bucket's name.
func (b *Bucket) Name() string { return b.cfg.Bucket }

// Open returns the bucket, looking it up on the first call that finds it.
// A bucket that exists is used as the server has it, as a stream is. A
// missing one is created as configured when create is set, and is an error
// wrapping jetstream.ErrBucketNotFound when it is not. A failed call is
// not remembered: the next one tries again.
func (b *Bucket) Open(ctx context.Context, create bool) (jetstream.KeyValue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.kv != nil {
		return b.kv, nil
	}
	kv, err := b.js.KeyValue(ctx, b.cfg.Bucket)
	if create && errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = b.js.CreateKeyValue(ctx, b.cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			// Created meanwhile by another process, with its settings.
			kv, err = b.js.KeyValue(ctx, b.cfg.Bucket)
		}
	}
	if err == nil && b.leader {
		kv, err = b.noDirect(ctx, kv)
	}
	if err != nil {
		return nil, err
	}
	b.kv = kv
	return kv, nil
}

// noDirect turns direct gets off on the stream of kv, if they are on, and
// returns the bucket bound again, so that its reads go to the leader: a
// binding reads direct gets or not from the stream's configuration.
func (b *Bucket) noDirect(ctx context.Context, kv jetstream.KeyValue) (jetstream.KeyValue, error) {
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, err
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok || !bs.StreamInfo().Config.AllowDirect {
		return kv, nil
	}
	cfg := bs.StreamInfo().Config
	cfg.AllowDirect = false
	if _, err := b.js.UpdateStream(ctx, cfg); err != nil {
		return nil, fmt.Errorf("bucket %s: read from the leader only: %w", b.cfg.Bucket, err)
	}
	return b.js.KeyValue(ctx, b.cfg.Bucket)
}

// WrongLast reports whether err says a write expected another last
// revision of its key than the bucket holds: the key changed meanwhile.
func WrongLast(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == 10164)
}
