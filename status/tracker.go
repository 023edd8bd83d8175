package status

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/topology"
)

var (
	// ErrNotFound is wrapped when a task has no recorded status: its ID is
	// unknown, its definition does not track state, or the record expired.
	ErrNotFound = errors.New("status: no status recorded")
	// ErrInvalidOption is wrapped by errors about options given to [NewTracker].
	ErrInvalidOption = errors.New("status: invalid option")
)

// Option configures a [Tracker].
type Option func(*topology.Topology)

// WithTopology gives the tracker the deployment's [topology.Topology]: its
// prefix must match the producers' and workers', and its replicas and
// storage apply to the status bucket if the tracker is the first to create
// it. WithPrefix and WithReplicas each set one of its fields; options apply
// in order. Default: the zero Topology, jetq's defaults.
func WithTopology(t topology.Topology) Option {
	return func(p *topology.Topology) { *p = t }
}

// WithPrefix must match the producers' and workers' prefix (default "jetq").
func WithPrefix(prefix string) Option {
	return func(t *topology.Topology) { t.Prefix = prefix }
}

// WithReplicas sets the replicas of the status bucket if the tracker is the
// first to create it: 1 by default, 3 in a cluster.
func WithReplicas(n int) Option {
	return func(t *topology.Topology) { t.Replicas = n }
}

// Tracker reads the statuses of tracked tasks. It is safe for concurrent
// use; create one and share it.
type Tracker struct {
	store *Store
}

// NewTracker returns a tracker reading through js. It does no I/O; the
// status bucket is opened, and created if missing, on first use. It returns
// an error wrapping [ErrInvalidOption] for a bad option.
func NewTracker(js jetstream.JetStream, opts ...Option) (*Tracker, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
	}
	var pub topology.Topology
	for _, opt := range opts {
		opt(&pub)
	}
	store, err := NewStore(js, pub)
	if err != nil {
		return nil, err
	}
	return &Tracker{store: store}, nil
}

// Get returns the status of the task with ID id now. It returns an error
// wrapping [ErrNotFound] when none is recorded.
func (t *Tracker) Get(ctx context.Context, id string) (Status, error) {
	st, err := t.store.Get(ctx, id)
	return st, wrap(err)
}

// Wait blocks until the task with ID id is done or dead-lettered and returns
// its final status. It may be called right after enqueueing: the producer
// records a tracked task as queued before Enqueue returns. A task with no
// status when Wait is called — an unknown ID, a definition without
// tasks.WithStateTracking, a record expired after [TTL] — makes it return
// at once with an error wrapping [ErrNotFound] instead of blocking until
// ctx ends; track the definition, or check the ID. When ctx ends first it
// returns the last status seen and ctx's error.
func (t *Tracker) Wait(ctx context.Context, id string) (Status, error) {
	st, err := t.store.Wait(ctx, id)
	return st, wrap(err)
}

func wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("status: %w", err)
}
