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

	"github.com/nats-io/nkeys"
)

// Defaults applied by [Start] when the matching option is not given.
const (
	defaultMaxMemory    int64 = 1 << 30  // 1 GiB, instead of the server's 75 % of RAM
	defaultMaxStore     int64 = 10 << 30 // 10 GiB, instead of the server's 75 % of free disk
	defaultNamePrefix         = "jetq-embedded-"
	randomPort                = -1 // server.RANDOM_PORT; the server reads 0 as 4222
	defaultReadyTimeout       = 10 * time.Second
	defaultSyncInterval       = time.Second // instead of the server's 2 min
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
	memSet     bool
	storeSet   bool

	users      []user // WithUser, in order
	token      string // WithToken
	tokenSet   bool
	nkeys      []string // WithNKeys: public user nkeys
	configFile string   // WithConfigFile

	tlsCert, tlsKey, tlsCA                      string // WithTLS
	tlsSet                                      bool
	clusterTLSCert, clusterTLSKey, clusterTLSCA string // WithClusterTLS
	clusterTLSSet                               bool

	monitor    string // WithMonitoring address
	monitorSet bool

	syncInterval time.Duration // WithSyncInterval
	syncAlways   bool          // WithSyncAlways
	syncSet      bool

	cluster       string   // cluster name; "" for a single server
	clusterListen string   // route listen address
	routes        []string // route URLs of every node, this one included

	// Filled in by validate from listen and clusterListen.
	host      string
	port      int
	routeHost string
	routePort int
	routeURLs []*url.URL
	monHost   string
	monPort   int
}

// user is a name and password given to [WithUser].
type user struct{ name, password string }

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
// monitoring data. Default: "jetq-embedded-" followed by random characters,
// chosen once per [WithStoreDir] directory and kept in its jetq.server_name
// file, or anew for each temporary store.
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
	return func(c *config) { c.maxMemory, c.memSet = bytes, true }
}

// WithMaxStore limits the disk space JetStream may use for file-storage
// streams, in bytes. Default: 10 GiB (the server's own default is 75 % of the
// free disk). A value of zero or less makes Start fail with [ErrInvalidOption].
func WithMaxStore(bytes int64) Option {
	return func(c *config) { c.maxStore, c.storeSet = bytes, true }
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

// WithUser lets clients in that connect with name and password. The password
// is either plain text or a bcrypt hash starting with "$2a$", "$2b$" or
// "$2y$" (as made by "nats server passwd" or htpasswd -B), which nats-server
// compares without ever storing the clear text. Repeat the option for more
// users; every user has full access. Once any of WithUser, [WithToken] or
// [WithNKeys] is given, clients without valid credentials are refused — pass
// them to [Server.Connect] too, e.g. with [nats.UserInfo]. Default: no
// authentication. An empty name or password makes Start fail with
// [ErrInvalidOption], as does combining users with a token.
func WithUser(name, password string) Option {
	return func(c *config) { c.users = append(c.users, user{name, password}) }
}

// WithToken lets clients in that present token ([nats.Token]); a bcrypt hash
// is accepted as for [WithUser]. Default: no authentication. An empty token,
// or a token together with users or nkeys (from options or a config file),
// makes Start fail with [ErrInvalidOption].
func WithToken(token string) Option {
	return func(c *config) { c.token, c.tokenSet = token, true }
}

// WithNKeys lets clients in that sign the server's challenge with the seed
// of one of publicKeys, public user nkeys starting with "U" (as printed by
// "nk -gen user -pubout"); the server never sees the seed. Repeat the option
// or pass several keys for more users. A key that is not a public user nkey
// makes Start fail with [ErrInvalidOption].
func WithNKeys(publicKeys ...string) Option {
	return func(c *config) { c.nkeys = append(c.nkeys, publicKeys...) }
}

// WithConfigFile reads a standard nats-server configuration file, as
// nats-server -c does, and uses it as the base of the server's options:
// authorization and accounts, TLS, limits, clustering, JetStream settings.
// The other With* options given to Start override what the file sets;
// JetStream is always enabled. The file's jetstream store_dir is used (and
// locked) when [WithStoreDir] is not given. Without [WithListen] the server
// listens where the file says (default port 4222) instead of not at all.
// A file that cannot be read or parsed makes Start fail with
// [ErrInvalidOption].
func WithConfigFile(path string) Option {
	return func(c *config) { c.configFile = path }
}

// WithTLS makes clients connect with TLS, the server presenting the
// certificate in certFile with its private key in keyFile (PEM). With a
// non-empty caFile clients must also present a certificate signed by a CA
// in that PEM file (mutual TLS); with "" any client may connect over TLS.
// Clients of a server with a certificate that is not publicly trusted need
// the CA, e.g. [nats.RootCAs] for [Server.Connect]. Default: no TLS. Empty
// cert or key files make Start fail with [ErrInvalidOption]; files that
// cannot be loaded make it fail with the reason.
func WithTLS(certFile, keyFile, caFile string) Option {
	return func(c *config) { c.tlsCert, c.tlsKey, c.tlsCA, c.tlsSet = certFile, keyFile, caFile, true }
}

// WithClusterTLS secures the routes of a cluster node ([WithCluster]) with
// TLS: the node presents certFile/keyFile and verifies every other node's
// certificate against the CAs in caFile, so only nodes with a certificate
// from that CA join. Give every node the same caFile. Default: routes in
// clear text. Empty file names, or the option without [WithCluster], make
// Start fail with [ErrInvalidOption].
func WithClusterTLS(certFile, keyFile, caFile string) Option {
	return func(c *config) {
		c.clusterTLSCert, c.clusterTLSKey, c.clusterTLSCA, c.clusterTLSSet = certFile, keyFile, caFile, true
	}
}

// WithMonitoring opens nats-server's HTTP monitoring endpoint on addr, in
// host:port form such as "127.0.0.1:8222", serving /varz, /jsz, /connz,
// /healthz and the rest. Port "0" picks a free port; [Server.MonitorURL]
// reports it. The endpoint has no authentication: keep it on loopback or a
// private network. Default: no monitoring endpoint. A malformed addr makes
// Start fail with [ErrInvalidOption].
func WithMonitoring(addr string) Option {
	return func(c *config) { c.monitor, c.monitorSet = addr, true }
}

// WithSyncInterval makes JetStream fsync its files every d, so that a power
// loss or a kernel crash loses at most about d of acknowledged writes; a
// killed process loses nothing either way, its writes being in the page
// cache. Default: 1 s, as Redis' appendfsync everysec (nats-server's own
// default is 2 min). A d of zero or less makes Start fail with
// [ErrInvalidOption]. The last of WithSyncInterval and [WithSyncAlways] wins.
func WithSyncInterval(d time.Duration) Option {
	return func(c *config) { c.syncInterval, c.syncAlways, c.syncSet = d, false, true }
}

// WithSyncAlways makes JetStream fsync every write before it is
// acknowledged, so that no acknowledged task is lost even on power loss, at
// a large cost in throughput (see the README's durability table). The last
// of [WithSyncInterval] and WithSyncAlways wins.
func WithSyncAlways() Option {
	return func(c *config) { c.syncInterval, c.syncAlways, c.syncSet = 0, true, true }
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
	for _, u := range c.users {
		if u.name == "" || u.password == "" {
			bad("WithUser(%q, …): name and password must be non-empty", u.name)
		}
	}
	if c.tokenSet && c.token == "" {
		bad("WithToken: empty token")
	}
	for _, k := range c.nkeys {
		if !nkeys.IsValidPublicUserKey(k) {
			bad("WithNKeys(%q): not a public user nkey (they start with U; pass the public key, never the seed)", k)
		}
	}
	if c.tlsSet && (c.tlsCert == "" || c.tlsKey == "") {
		bad("WithTLS: a certificate file and a key file are both needed")
	}
	if c.clusterTLSSet {
		if c.clusterTLSCert == "" || c.clusterTLSKey == "" || c.clusterTLSCA == "" {
			bad("WithClusterTLS: a certificate file, a key file and a CA file are all needed")
		}
		if c.cluster == "" && c.configFile == "" {
			bad("WithClusterTLS: the server is no cluster node; add WithCluster")
		}
	}
	if c.monitorSet {
		host, port, err := parseListen(c.monitor)
		if err != nil {
			bad("WithMonitoring(%q): %v", c.monitor, err)
		}
		c.monHost, c.monPort = host, port
	}
	if c.syncSet && !c.syncAlways && c.syncInterval <= 0 {
		bad("WithSyncInterval(%s): must be positive; use WithSyncAlways to sync every write", c.syncInterval)
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
