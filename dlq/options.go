package dlq

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/jetq/jetq/internal/forwarder"
	"github.com/jetq/jetq/internal/wire"
)

// Option configures a [Forwarder] or an [Inspector]; pass options to
// [NewForwarder] or [NewInspector], which validate them.
type Option func(*config)

type config struct {
	log    *slog.Logger
	prefix string
	topo   wire.Topology
	// Set by tests only (export_test.go).
	hooks   forwarder.Hooks
	ackWait time.Duration
}

// WithLogger makes a Forwarder log with l: Info for lifecycle and records a
// worker had filed already, Warn for the records it files and the events it
// retries, Debug per event otherwise. Default slog.Default(); nil keeps the
// default. An Inspector does not log. Payloads are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithPrefix sets the prefix every stream and subject name derives from. It
// must match the producers' and workers' prefix. Default "jetq"; a prefix
// is one lower-case token of at most 32 bytes starting with a letter.
func WithPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithReplicas sets the replicas of the streams a Forwarder creates when
// they are missing: 1 by default, 3 in a cluster, at most 5. The forwarder's
// consumer takes the events stream's replicas, whoever created it.
func WithReplicas(n int) Option {
	return func(c *config) { c.topo.Replicas = n }
}

func newConfig(opts []Option) (config, error) {
	c := config{log: slog.Default()}
	for _, opt := range opts {
		opt(&c)
	}
	names, err := wire.NewNames(c.prefix)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	c.topo.Names = names
	if err := c.topo.Validate(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return c, nil
}
