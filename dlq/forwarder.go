package dlq

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/forwarder"
)

// Forwarder files the dead-letter records of tasks the server gave up on:
// tasks whose worker died or hung on their last attempt. It reads the
// max-deliveries advisories the JETQ_EVENTS stream keeps, so it misses none
// while it is down. Any number may run at once; they share one durable
// consumer. A Forwarder is safe for concurrent use and runs once.
type Forwarder struct {
	f *forwarder.Forwarder
}

// NewForwarder returns a forwarder reading through js. It does no I/O. It
// returns an error wrapping [ErrInvalidOption] for a bad option.
func NewForwarder(js jetstream.JetStream, opts ...Option) (*Forwarder, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Forwarder{f: forwarder.New(js, c.topo, c.log, c.hooks)}, nil
}

// Run creates the streams jetq needs if they are missing, then files
// records until ctx ends, and returns nil. It recovers from a deleted
// consumer and a dropped connection by itself; it returns an error when the
// connection is closed under it.
func (f *Forwarder) Run(ctx context.Context) error {
	return f.f.Run(ctx)
}
