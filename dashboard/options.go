package dashboard

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jetq/jetq/topology"
)

// Option configures a [Dashboard]; pass options to [New].
type Option func(*config)

type config struct {
	pub          topology.Topology
	base         string
	token        string
	actions      bool
	hidePayloads bool
	log          *slog.Logger
	timeout      time.Duration
	metrics      http.Handler
}

// WithTopology sets the deployment's [topology.Topology]: give the same
// value to every producer, worker, forwarder, schedule, inspector,
// dashboard and metrics collector of a deployment. Names derive from its
// prefix; streams and buckets created when missing follow the rest of it,
// and those that exist are used as the server has them. Default: the zero
// Topology, jetq's defaults.
func WithTopology(t topology.Topology) Option { return func(c *config) { c.pub = t } }

// WithBasePath sets the path the dashboard is mounted at, such as "/jetq"
// for a handler registered on "/jetq/": its links and forms start with it,
// and it is stripped from the requests' paths. Default "", the root.
func WithBasePath(path string) Option {
	return func(c *config) { c.base = strings.TrimSuffix(path, "/") }
}

// WithActions allows the dashboard's actions — replay, delete and purge
// of dead letters; delete, run now, cancel and retry now of tasks;
// removal of a periodic task — to whoever holds token:
// a browser signed in with it, or a request with the header
// "Authorization: Bearer <token>". The token must be at least 16 bytes.
// Without this option the dashboard only reads.
func WithActions(token string) Option {
	return func(c *config) { c.actions, c.token = true, token }
}

// WithHidePayloads keeps task payloads off every page and out of the JSON
// API, for deployments where payloads hold personal data.
func WithHidePayloads() Option { return func(c *config) { c.hidePayloads = true } }

// WithLogger sets where the dashboard logs the actions taken and the
// errors it answers with. Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithTimeout bounds the server requests behind one page. Default 10 s.
// Replaying or purging the records a filter selects is bounded by
// [BulkTimeout] instead, and goes on if the browser leaves.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithMetrics serves h at /metrics instead of the dashboard's own
// metrics.Metrics, such as the Handler of one whose MeterProvider the
// process's workers record to. Default: the Handler of a metrics.New on
// the dashboard's connection and topology.
func WithMetrics(h http.Handler) Option { return func(c *config) { c.metrics = h } }

// minTokenLen is the shortest action token accepted.
const minTokenLen = 16
