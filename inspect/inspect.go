package inspect

import (
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/internal/pausing"
	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/internal/unique"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// Inspector reads a deployment and acts on it. It is safe for concurrent
// use.
type Inspector struct {
	js    jetstream.JetStream
	pub   topology.Topology
	names wire.Names
	log   *slog.Logger

	states *statusstore.Store
	unique *unique.Store
	// flows reads and cancels workflows.
	flows *flow.Runner
	// pauses keeps the pauses of queues and task types (pause.go).
	pauses *pausing.Store

	// workScan and deadLetterScan bound the reads of Find.
	workScan, deadLetterScan int

	// retryHook, set by tests, is called at the steps of RetryNow that
	// may race a worker: "publish" and "delete".
	retryHook func(step string)
}

// New returns an Inspector working through js. It does no I/O. It returns
// an error wrapping [ErrInvalidOption] for a nil js, a topology out of
// range or a negative scan.
func New(js jetstream.JetStream, opts ...Option) (*Inspector, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
	}
	cfg := config{log: slog.Default(), scan: DefaultScan, dlqScan: DefaultDeadLetterScan}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.scan < 0 {
		return nil, fmt.Errorf("%w: scan must not be negative, got %d", ErrInvalidOption, cfg.scan)
	}
	if cfg.dlqScan < 1 && cfg.dlqScan != -1 {
		return nil, fmt.Errorf("%w: dead-letter scan must be positive or -1 for every record, got %d", ErrInvalidOption, cfg.dlqScan)
	}
	if err := cfg.pub.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	states, err := statusstore.New(js, cfg.pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return &Inspector{js: js, pub: cfg.pub, names: wire.NamesOf(cfg.pub), log: cfg.log, states: states, unique: unique.New(js, cfg.pub),
		flows: flow.New(js, cfg.pub, cfg.log), pauses: pausing.New(js, cfg.pub), workScan: cfg.scan, deadLetterScan: cfg.dlqScan}, nil
}
