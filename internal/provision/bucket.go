package provision

import (
	"context"
	"errors"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is a key-value bucket opened on first use, the one way jetq's
// stores open theirs: unique keys, fired tasks, statuses and worker
// presence. It is safe for concurrent use.
type Bucket struct {
	js  jetstream.JetStream
	cfg jetstream.KeyValueConfig

	mu sync.Mutex
	kv jetstream.KeyValue
}

// NewBucket returns the bucket cfg describes; it does no I/O.
func NewBucket(js jetstream.JetStream, cfg jetstream.KeyValueConfig) *Bucket {
	return &Bucket{js: js, cfg: cfg}
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
	if err != nil {
		return nil, err
	}
	b.kv = kv
	return kv, nil
}
