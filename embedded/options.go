package embedded

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by [Start] when the matching option is not given.
const (
	defaultMaxMemory    int64 = 1 << 30  // 1 GiB, instead of the server's 75 % of RAM
	defaultMaxStore     int64 = 10 << 30 // 10 GiB, instead of the server's 75 % of free disk
	defaultNamePrefix         = "jetq-embedded-"
	randomPort                = -1 // server.RANDOM_PORT; the server reads 0 as 4222
	defaultReadyTimeout       = 10 * time.Second
)

// Option configures [Start]. Options are applied in order, so a later option
// overrides an earlier one of the same kind. Values are validated by Start,
// not by the With* functions, so that all problems are reported together.
type Option func(*config)

// config is what the options build. It describes one server; a future
// StartCluster is meant to take the same options and derive one config per node.
type config struct {
	storeDir   string
	dirSet     bool
	listen     string
	listenSet  bool
	logger     *slog.Logger
	loggerSet  bool
	serverName string
	nameSet    bool
	maxMemory  int64
	maxStore   int64

	cluster       string   // cluster name; "" for a single server
	clusterListen string   // route listen address
	routes        []string // route URLs of every node, this one included

	// Filled in by validate from listen and clusterListen.
	host      string
	port      int
	routeHost string
	routePort int
	routeURLs []*url.URL
}

func newConfig(opts []Option) *config {
	c := &config{maxMemory: defaultMaxMemory, maxStore: defaultMaxStore}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// WithStoreDir sets the directory JetStream stores its data in; the server
// writes below dir/jetstream and creates dir if needed. The directory is kept
// on [Server.Shutdown], so a later [Start] with the same dir finds the same
// streams. Only one running [Server] of this process may use a directory.
// Default: a new temporary directory that Shutdown removes. An empty dir
// makes Start fail with [ErrInvalidOption].
func WithStoreDir(dir string) Option {
	return func(c *config) { c.storeDir, c.dirSet = dir, true }
}

// WithListen opens a TCP client listener on addr, in host:port form such as
// "127.0.0.1:4222". Port "0" or "-1" picks a free port; [Server.ClientURL]
// reports the one chosen. An empty host listens on all interfaces. Default:
// no TCP listener at all, so only in-process connections from
// [Server.Connect] reach the server. A malformed addr makes Start fail with
// [ErrInvalidOption]; a port already in use makes Start fail when listening.
func WithListen(addr string) Option {
	return func(c *config) { c.listen, c.listenSet = addr, true }
}

// WithLogger routes the server's log to l: notices as Info, warnings as Warn,
// errors and fatal errors as Error, debug and trace lines as Debug. Server
// debug logging is switched on only if l is enabled for [slog.LevelDebug].
// A nil l means [slog.Default]. Default when the option is not given: the
// server's log is discarded.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger, c.loggerSet = l, true }
}

// WithServerName sets the server's name, as reported in its INFO and
// monitoring data. Default: "jetq-embedded-" followed by random characters.
// An empty name or one containing white space makes Start fail with
// [ErrInvalidOption].
func WithServerName(name string) Option {
	return func(c *config) { c.serverName, c.nameSet = name, true }
}

// WithMaxMemory limits the memory JetStream may use for memory-storage
// streams, in bytes. It is an accounting limit, not a cap on the process.
// Default: 1 GiB (the server's own default is 75 % of RAM). A value of zero
// or less makes Start fail with [ErrInvalidOption].
func WithMaxMemory(bytes int64) Option {
	return func(c *config) { c.maxMemory = bytes }
}

// WithMaxStore limits the disk space JetStream may use for file-storage
// streams, in bytes. Default: 10 GiB (the server's own default is 75 % of the
// free disk). A value of zero or less makes Start fail with [ErrInvalidOption].
func WithMaxStore(bytes int64) Option {
	return func(c *config) { c.maxStore = bytes }
}

// WithCluster makes the server a node of the JetStream cluster called name:
// it listens for routes from the other nodes on listen (host:port, such as
// "0.0.0.0:6222") and connects to routes, the route URLs of every node of the
// cluster — its own included — such as "nats://10.0.0.1:6222". Give every
// node the same list: the size of the cluster is read from it. A cluster node
// needs a unique name ([WithServerName]; the random default is unique) and
// its own store dir. One jetq binary so grows from a single embedded server
// into a cluster without code changes. An empty name, a malformed listen
// address or a route that is not a nats:// or nats-route:// URL makes Start
// fail with [ErrInvalidOption].
func WithCluster(name, listen string, routes ...string) Option {
	return func(c *config) { c.cluster, c.clusterListen, c.routes = name, listen, routes }
}

// validate checks every field and reports all problems, each wrapping
// ErrInvalidOption.
func (c *config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...))
	}
	if c.dirSet && c.storeDir == "" {
		bad("WithStoreDir: empty directory")
	}
	if c.listenSet {
		host, port, err := parseListen(c.listen)
		if err != nil {
			bad("WithListen(%q): %v", c.listen, err)
		}
		c.host, c.port = host, port
	}
	if c.nameSet {
		switch {
		case c.serverName == "":
			bad("WithServerName: empty name")
		case strings.ContainsFunc(c.serverName, isSpace):
			bad("WithServerName(%q): name contains white space", c.serverName)
		}
	}
	if c.cluster != "" || c.clusterListen != "" || len(c.routes) > 0 {
		if c.cluster == "" || strings.ContainsFunc(c.cluster, isSpace) {
			bad("WithCluster: cluster name %q must be non-empty without white space", c.cluster)
		}
		host, port, err := parseListen(c.clusterListen)
		if err != nil {
			bad("WithCluster: route listen address %q: %v", c.clusterListen, err)
		}
		c.routeHost, c.routePort = host, port
		if len(c.routes) == 0 {
			bad("WithCluster: no routes; list every node's route URL, this one's included")
		}
		c.routeURLs = nil
		for _, r := range c.routes {
			u, err := url.Parse(r)
			if err != nil || (u.Scheme != "nats" && u.Scheme != "nats-route") || u.Host == "" {
				bad("WithCluster: route %q is not a nats-route://host:port URL", r)
				continue
			}
			c.routeURLs = append(c.routeURLs, u)
		}
	}
	if c.maxMemory <= 0 {
		bad("WithMaxMemory(%d): must be positive", c.maxMemory)
	}
	if c.maxStore <= 0 {
		bad("WithMaxStore(%d): must be positive", c.maxStore)
	}
	return errors.Join(errs...)
}

// parseListen splits addr into host and port, mapping port 0 to the server's
// random-port value.
func parseListen(addr string) (host string, port int, err error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if host != "" && net.ParseIP(host) == nil && !isHostname(host) {
		return "", 0, fmt.Errorf("invalid host %q", host)
	}
	port, err = strconv.Atoi(ps)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("invalid port %q", ps)
	}
	if port == 0 {
		port = randomPort
	}
	return host, port, nil
}

func isHostname(h string) bool {
	for _, r := range h {
		ok := r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !ok {
			return false
		}
	}
	return true
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }
