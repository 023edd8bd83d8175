package dlq

import (
	"fmt"
	"log/slog"

	"github.com/jetq/jetq/internal/forwarder"
	"github.com/jetq/jetq/internal/wire"
)

// Option configures a [Forwarder] or an [Inspector].
type Option func(*config)

type config struct {
	log    *slog.Logger
	prefix string
	topo   wire.Topology
	hooks  forwarder.Hooks
}

// WithLogger logs with l; default slog.Default(), nil keeps the default.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithPrefix must match the producers' and workers' prefix (default "jetq").
func WithPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithReplicas sets the replicas of the streams and the consumer the
// forwarder creates when they are missing: 1 by default, 3 in a cluster.
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
