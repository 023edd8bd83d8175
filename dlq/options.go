package dlq

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/jetq/jetq/internal/forwarder"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// Option configures a [Forwarder]; pass options to [NewForwarder], which
// validates them.
type Option func(*config)

type config struct {
	log   *slog.Logger
	pub   topology.Topology // as the options say
	names wire.Names        // of pub, set by newConfig
	// Set by tests only (export_test.go).
	hooks   forwarder.Hooks
	ackWait time.Duration
}

// WithLogger makes a Forwarder log with l: Info for lifecycle and records a
// worker had filed already, Warn for the records it files and the events it
// retries, Debug per event otherwise. Default slog.Default(); nil keeps the
// default. Payloads are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithTopology sets the deployment's [topology.Topology]: give the same
// value to every producer, worker, forwarder, schedule, inspector,
// dashboard and metrics collector of a deployment. Names derive from its
// prefix; streams and buckets created when missing follow the rest of it,
// and those that exist are used as the server has them. Default: the zero
// Topology, jetq's defaults.
func WithTopology(t topology.Topology) Option {
	return func(c *config) { c.pub = t }
}

func newConfig(opts []Option) (config, error) {
	c := config{log: slog.Default()}
	for _, opt := range opts {
		opt(&c)
	}
	if err := c.pub.Validate(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	c.names = wire.NamesOf(c.pub)
	return c, nil
}
