package metrics

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/jetq/jetq/topology"
)

// DefaultTimeout bounds one read of the server by a [Collector]: half of
// Prometheus's default scrape_timeout (10 s), so a server that does not
// answer reaches Prometheus as jetq_up 0 rather than as a failed scrape.
const DefaultTimeout = 5 * time.Second

// Option configures a [Collector] or a [Metrics]; pass options to
// [NewCollector] or [New], which validate them.
type Option func(*config)

type config struct {
	pub      topology.Topology
	timeout  time.Duration
	log      *slog.Logger
	noGauges bool
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

// WithTimeout bounds each scrape's read of the server to d; a read that
// takes longer is abandoned and the scrape reports jetq_up 0. Keep it below
// Prometheus's scrape_timeout. Default [DefaultTimeout]; d must be positive.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// WithLogger makes a Collector log with l: a Warn line with the error for
// each scrape that could not read the server, and an Error line when
// [Metrics.Handler] cannot gather the registry. Default slog.Default(); nil
// keeps the default.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithoutQueueGauges leaves the queue gauges out of a [Metrics]: its
// handler serves the OpenTelemetry instruments and the Go and process
// collectors only, and a scrape reads nothing from the server. Give it to
// the workers of a large fleet and serve the gauges from one process, such
// as the dashboard: they describe the server, the same from every process,
// and each scrape that serves them reads every task type's state.
func WithoutQueueGauges() Option {
	return func(c *config) { c.noGauges = true }
}

func newConfig(opts []Option) (config, error) {
	c := config{timeout: DefaultTimeout, log: slog.Default()}
	for _, opt := range opts {
		opt(&c)
	}
	if c.timeout <= 0 {
		return c, fmt.Errorf("%w: timeout must be positive, got %v", ErrInvalidOption, c.timeout)
	}
	if err := c.pub.Validate(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return c, nil
}
