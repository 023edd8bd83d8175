package statusstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// Store reads and writes the statuses of tracked tasks in the status bucket:
// producers record "queued", workers "running" and then what each attempt
// ended as, forwarders and replays what they did, and inspect reads.
// It opens (and, to write, creates) the bucket on first use and is safe for
// concurrent use.
type Store struct {
	js      jetstream.JetStream
	names   wire.Names
	kv      *provision.Bucket
	results objects
	kept    retentions
}

// New returns a store for the status bucket of t; it does no I/O. It
// returns the error of t's Validate for a topology out of range.
func New(js jetstream.JetStream, t topology.Topology) (*Store, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &Store{js: js, names: wire.NamesOf(t), kv: provision.NewBucket(js, wire.StatusBucketConfig(t, status.TTL)),
		results: objects{cfg: wire.ResultObjectsConfig(t, tasks.MaxRetention)}}, nil
}

// bucket opens the bucket, creating it if it is missing.
func (s *Store) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	return s.open(ctx, true)
}

// open opens the bucket; with create it creates a missing one, without a
// missing bucket is an error wrapping status.ErrNotFound.
func (s *Store) open(ctx context.Context, create bool) (jetstream.KeyValue, error) {
	kv, err := s.kv.Open(ctx, create)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		err = status.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("status bucket %s: %w", s.kv.Name(), err)
	}
	return kv, nil
}

// Queued records a task just enqueued as queued (scheduled, when st says
// so), unless a worker has recorded it already (or it is a duplicate of a
// tracked task).
func (s *Store) Queued(ctx context.Context, st status.Status) error {
	kv, err := s.bucket(ctx)
	if err != nil {
		return err
	}
	if st.State != status.Scheduled {
		st.State = status.Queued
	}
	b, err := encode(st)
	if err != nil {
		return err
	}
	_, err = kv.Create(ctx, status.Key(st.ID), b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	return err
}

// Put records st as the task's status.
func (s *Store) Put(ctx context.Context, st status.Status) error {
	kv, err := s.bucket(ctx)
	if err != nil {
		return err
	}
	b, err := encode(st)
	if err != nil {
		return err
	}
	_, err = kv.Put(ctx, status.Key(st.ID), b)
	return err
}

// Get returns the status of task id, or an error wrapping status.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (status.Status, error) {
	st, _, err := s.read(ctx, id, true)
	return st, err
}

// Read returns the status of task id with its revision, for [Store.Swap].
// It creates no bucket: a missing bucket or record is an error wrapping
// status.ErrNotFound, as for a task that is not tracked.
func (s *Store) Read(ctx context.Context, id string) (status.Status, uint64, error) {
	return s.read(ctx, id, false)
}

// read returns the status of task id with its revision; with create, a
// missing bucket is created (and the task then not found).
func (s *Store) read(ctx context.Context, id string, create bool) (status.Status, uint64, error) {
	kv, err := s.open(ctx, create)
	if err != nil {
		return status.Status{}, 0, err
	}
	e, err := kv.Get(ctx, status.Key(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return status.Status{}, 0, fmt.Errorf("task %q: %w", id, status.ErrNotFound)
	}
	if err != nil {
		return status.Status{}, 0, err
	}
	st, err := decode(e.Value())
	return st, e.Revision(), err
}

// ErrChanged is returned by [Store.Swap] when the status was written since
// it was read.
var ErrChanged = errors.New("status changed since it was read")

// Swap records st as the task's status if it is still at revision rev.
func (s *Store) Swap(ctx context.Context, st status.Status, rev uint64) error {
	kv, err := s.open(ctx, false)
	if err != nil {
		return err
	}
	b, err := encode(st)
	if err != nil {
		return err
	}
	_, err = kv.Update(ctx, status.Key(st.ID), b, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return ErrChanged
	}
	return err
}

// Settle records, for a tracked task, that it ended as change says: change
// edits the status read. Untracked tasks (no record, no bucket) are left
// alone and nil is returned. A write that raced another is read and made
// again.
func (s *Store) Settle(ctx context.Context, id string, change func(*status.Status)) error {
	for {
		st, rev, err := s.Read(ctx, id)
		if errors.Is(err, status.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		change(&st)
		if err := s.Swap(ctx, st, rev); !errors.Is(err, ErrChanged) {
			return err
		}
	}
}

// Wait returns the status of task id once it is final, watching for changes
// until ctx ends. The record must exist when Wait is called: a producer
// records a tracked task as queued before its Enqueue returns, so a Wait
// right after the enqueue finds it. With no record then — an unknown ID, a
// definition that does not track state, a record expired, or no status
// bucket at all — Wait returns at once with an error wrapping status.ErrNotFound,
// and creates no bucket.
func (s *Store) Wait(ctx context.Context, id string) (status.Status, error) {
	kv, err := s.open(ctx, false)
	if err != nil {
		return status.Status{}, fmt.Errorf("task %q: %w", id, err)
	}
	return watch(ctx, kv, id, false)
}

// WaitFinal is [Store.Wait] for a record that may not be there yet (a
// task not settled, whose type keeps only its final outcome): it waits for
// the record, creating a missing bucket so that it can be watched. When ctx
// ends before any record was seen the error wraps both ctx's error and
// status.ErrNotFound; after, ctx's error alone.
func (s *Store) WaitFinal(ctx context.Context, id string) (status.Status, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return status.Status{}, fmt.Errorf("task %q: %w", id, err)
	}
	return watch(ctx, kv, id, true)
}

// watch watches the record of task id until it is final. A record missing
// at the start is an error wrapping status.ErrNotFound at once, unless
// waitMissing.
func watch(ctx context.Context, kv jetstream.KeyValue, id string, waitMissing bool) (status.Status, error) {
	w, err := kv.Watch(ctx, status.Key(id))
	if err != nil {
		return status.Status{}, err
	}
	defer w.Stop()
	var last status.Status
	seen := false // a record was read
	for {
		select {
		case <-ctx.Done():
			if !seen && waitMissing {
				return last, fmt.Errorf("task %q: %w: %w", id, status.ErrNotFound, ctx.Err())
			}
			return last, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return last, fmt.Errorf("watch of task %q ended", id)
			}
			if e == nil { // end of the initial values
				if !seen && !waitMissing {
					return status.Status{}, fmt.Errorf("task %q: %w", id, status.ErrNotFound)
				}
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				continue // a delete or purge: the record is gone, but may come back (a replay)
			}
			seen = true
			if last, err = decode(e.Value()); err != nil {
				return last, err
			}
			if last.State.Final() {
				return last, nil
			}
		}
	}
}

// encode is st as stored, stamped with the time of this write.
func encode(st status.Status) ([]byte, error) {
	st.UpdatedAt = time.Now().UTC()
	return json.Marshal(st)
}

func decode(b []byte) (status.Status, error) {
	var st status.Status
	err := json.Unmarshal(b, &st)
	if (st.State == status.Queued || st.State == status.Scheduled) && !st.Deadline.IsZero() && time.Now().After(st.Deadline.Add(wire.TTLGrace)) {
		// A minute past its deadline no worker starts it, and the server's
		// TTL removes it.
		st.State = status.Expired
	}
	if err != nil {
		return st, fmt.Errorf("status record: %w", err)
	}
	return st, nil
}

// Of is the status a task starts from: its identity, attempts and enqueue
// time, as its envelope has them.
func Of(env *tasks.Envelope) status.Status {
	st := status.Status{
		ID: env.ID, Task: env.Name, Queue: env.Queue,
		Attempt: env.Attempt, MaxAttempts: env.MaxAttempts, EnqueuedAt: env.EnqueuedAt,
	}
	if !env.Deadline.IsZero() {
		st.Deadline = env.Deadline.UTC()
	}
	if at, err := wire.ParseTime(env.Header.Get(wire.HeaderRunAt)); err == nil && env.Attempt == 0 {
		st.State, st.RunAt = status.Scheduled, at
	}
	return st
}
