package inspect

import (
	"log/slog"

	"github.com/jetq/jetq/topology"
)

// Option configures an [Inspector]; pass options to [New].
type Option func(*config)

type config struct {
	pub     topology.Topology
	log     *slog.Logger
	scan    int
	dlqScan int
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

// WithLogger makes the Inspector log its actions (Info) and what it could
// not read (Warn) with l. Default slog.Default(); nil keeps the default.
// Payloads are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithScan bounds how many work-stream messages [Inspector.Find] reads to
// find a task's message; 0 skips the work stream. Default [DefaultScan].
func WithScan(n int) Option { return func(c *config) { c.scan = n } }

// WithDeadLetterScan bounds how many dead-letter records [Inspector.Find]
// reads, newest first, to find a task's: of its task type when its status
// or schedule names it, of every type otherwise; -1 reads every record.
// Default [DefaultDeadLetterScan].
func WithDeadLetterScan(n int) Option { return func(c *config) { c.dlqScan = n } }
