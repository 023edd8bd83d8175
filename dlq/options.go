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

// WithTopology sets every stream setting at once: give the same
// [topology.Topology] to every producer, worker, forwarder and inspector of
// a deployment. A Forwarder creates missing streams from it.
// WithPrefix and WithReplicas each set one of its fields; options apply in
// order. Default: the zero Topology, jetq's defaults.
func WithTopology(t topology.Topology) Option {
	return func(c *config) { c.pub = t }
}

// WithPrefix sets the prefix every stream and subject name derives from. It
// must match the producers' and workers' prefix. Default "jetq"; a prefix
// is one lower-case token of at most 32 bytes starting with a letter.
func WithPrefix(prefix string) Option {
	return func(c *config) { c.pub.Prefix = prefix }
}

// WithReplicas sets the replicas of the streams a Forwarder creates when
// they are missing: 1 by default, 3 in a cluster, at most 5. The forwarder's
// consumer takes the events stream's replicas, whoever created it.
func WithReplicas(n int) Option {
	return func(c *config) { c.pub.Replicas = n }
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
