package fired

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

// Store claims fired tasks by ID in the bucket [wire.FiredBucketConfig].
// It opens (and creates) the bucket on first use and is safe for concurrent
// use.
type Store struct {
	bucket *provision.Bucket
}

// New returns a store for the bucket of topo; it does no I/O.
func New(js jetstream.JetStream, topo topology.Topology) *Store {
	return &Store{bucket: provision.NewBucket(js, wire.FiredBucketConfig(topo))}
}

func (s *Store) open(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := s.bucket.Open(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("fired-task bucket %s: %w", s.bucket.Name(), err)
	}
	return kv, nil
}

// Verdict is what a worker does with a delivery of a fired task.
type Verdict uint8

const (
	// Run: the delivery holds the claim; run it.
	Run Verdict = iota
	// Copy: another message of the work stream holds the claim for the same
	// firing; the delivery is a second copy, to be removed unrun.
	Copy
	// Stale: a later delivery of the same message holds the claim (the
	// server redelivered it while this one waited, as when its heartbeats
	// went to a consumer leader that had gone), or another delivery with
	// the same attempt (made again by a new consumer leader); the message
	// is that delivery's to settle, so this one is let go, unrun and
	// unsettled. If that one never runs, the server delivers the message
	// again after its ack wait, with a higher attempt, which runs.
	Stale
	// Done: the message ran and succeeded already ([Store.Done]); the
	// delivery comes again because its acknowledgement was lost with a
	// consumer leader, and is acknowledged again, unrun.
	Done
)

// done is the claim of a firing whose message ran and succeeded.
const done = "done"

// Delivery is one delivery of a fired task.
type Delivery struct {
	// ID is the task's ID; Firing tells one firing of the ID from another
	// (a delayed task enqueued again with the same ID fires again, and that
	// runs; see wire.Firing).
	ID, Firing string
	// Seq is the message's sequence in the work stream, Attempt the
	// server's count of its deliveries.
	Seq     uint64
	Attempt int
	// Token tells this delivery from any other with the same Seq and
	// Attempt (a new consumer leader that never learned of a delivery
	// makes it again): a random number, the same for every try at one
	// delivery's claim.
	Token uint64
}

// Claim decides what becomes of delivery d. The first delivery of a firing
// claims it and runs; a redelivery of the same message (a later attempt)
// takes the claim over and runs; an earlier or equal attempt that comes
// after it is [Stale]; any other message of the same firing is a [Copy].
func (s *Store) Claim(ctx context.Context, d Delivery) (Verdict, error) {
	kv, err := s.open(ctx)
	if err != nil {
		return Run, err
	}
	key := wire.FiredKey(d.ID, d.Firing)
	claim := fmt.Appendf(nil, "%d %d %d", d.Seq, d.Attempt, d.Token)
	for range 8 {
		_, err := kv.Create(ctx, key, claim)
		if err == nil {
			return Run, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return Run, err
		}
		e, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
			continue // expired meanwhile: claim again
		case err != nil:
			return Run, err
		}
		var seq, token uint64
		var attempt int
		if n, err := fmt.Sscanf(string(e.Value()), "%d %d %d", &seq, &attempt, &token); n == 0 {
			return Run, fmt.Errorf("claim %q of fired task %s: %w", e.Value(), d.ID, err)
		}
		switch {
		case seq != d.Seq:
			return Copy, nil
		case strings.HasSuffix(string(e.Value()), " "+done):
			return Done, nil
		case attempt == d.Attempt && token == d.Token:
			return Run, nil // this delivery's own claim, made by a try that timed out
		case attempt >= d.Attempt:
			return Stale, nil
		}
		if _, err := kv.Update(ctx, key, claim, e.Revision()); err == nil {
			return Run, nil
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
			return Run, err
		}
		// Another delivery claimed it meanwhile: read it again.
	}
	return Run, errors.New("fired task claimed again and again concurrently")
}

// Done records that delivery d ran and succeeded: a later delivery of the
// same message, whose acknowledgement was lost, is [Done] and does not run
// again. Another message of the same firing stays a [Copy].
func (s *Store) Done(ctx context.Context, d Delivery) error {
	kv, err := s.open(ctx)
	if err != nil {
		return err
	}
	_, err = kv.Put(ctx, wire.FiredKey(d.ID, d.Firing), fmt.Appendf(nil, "%d %s", d.Seq, done))
	return err
}

// Reserve claims the run of d for d.Seq, unless a delivery claimed it
// already, and returns the sequence of the message that holds the claim:
// d.Seq when it is d's (or became d's meanwhile). It is how a copy made to
// run a retrying task now is given the run before it is delivered (d.Attempt
// is then the attempts spent, below its delivery's): the original's
// redelivery then finds it a [Copy], and if that redelivery claimed the run
// first the copy is not to run.
func (s *Store) Reserve(ctx context.Context, d Delivery) (holder uint64, err error) {
	kv, err := s.open(ctx)
	if err != nil {
		return 0, err
	}
	key := wire.FiredKey(d.ID, d.Firing)
	for range 8 {
		if _, err := kv.Create(ctx, key, fmt.Appendf(nil, "%d %d %d", d.Seq, d.Attempt, d.Token)); err == nil {
			return d.Seq, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, err
		}
		e, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
			continue // expired meanwhile: claim again
		case err != nil:
			return 0, err
		}
		var seq uint64
		if n, err := fmt.Sscanf(string(e.Value()), "%d", &seq); n == 0 {
			return 0, fmt.Errorf("claim %q of task %s: %w", e.Value(), d.ID, err)
		}
		return seq, nil
	}
	return 0, errors.New("task run claimed again and again concurrently")
}
