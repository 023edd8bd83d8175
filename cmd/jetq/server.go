package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/spf13/cobra"

	"github.com/jetq/jetq/embedded"
)

// serverFlags are the flags of jetq server.
type serverFlags struct {
	listen, storeDir, name, clusterName, clusterListen string
	routes                                             []string
	debug                                              bool

	config                              string
	authUser, authPassword, authToken   string
	authNKeys                           []string
	tlsCert, tlsKey, tlsCA              string
	clusterTLSCert, clusterTLSKey       string
	clusterTLSCA, monitor, syncInterval string
}

// clientFlagInstead maps the root's client connection flags to the server
// flag to use instead; they configure how jetq connects, not how it serves.
var clientFlagInstead = [][2]string{
	{"server", "--listen"},
	{"context", "--config"},
	{"user", "--auth-user"},
	{"password", "--auth-password"},
	{"token", "--auth-token"},
	{"nkey", "--auth-nkey with the public key"},
	{"creds", "--auth-nkey with the user's public key, or --config with an operator setup"},
	{"tlscert", "--server-tlscert"},
	{"tlskey", "--server-tlskey"},
	{"tlsca", "--server-tlsca"},
	{"tls-cert", "--server-tlscert"},
	{"tls-key", "--server-tlskey"},
	{"tls-ca", "--server-tlsca"},
}

func newServerCmd(g *globals) *cobra.Command {
	var sf serverFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a NATS server with JetStream for jetq",
		Long: "server runs an embedded nats-server with JetStream on a TCP port, keeping its data in\n" +
			"--store-dir, until interrupted: a single-binary deployment or a laptop setup. With\n" +
			"--cluster-name, --cluster-listen and --routes it is one node of a JetStream cluster;\n" +
			"give every node the route URLs of all nodes, its own included, and a unique --name.\n\n" +
			"The store dir is locked (store-dir/jetq.lock): a second server on it exits at once.\n" +
			"Clients authenticate with --auth-user/--auth-password (the password may be a bcrypt\n" +
			"hash), --auth-token or --auth-nkey public keys; --server-tlscert/--server-tlskey serve\n" +
			"TLS, --server-tlsca also requires client certificates. --http opens the monitoring\n" +
			"endpoint (/varz, /jsz, /healthz). --sync sets how often JetStream fsyncs (1s by default;\n" +
			"'always' before every acknowledgement). --config reads a nats-server configuration file;\n" +
			"flags given explicitly override it. The client flags (--server, --user, --tlscert …) do\n" +
			"not apply to server and are refused.",
		Example: `  jetq server --store-dir ./data
  jetq server --store-dir /var/lib/jetq --listen 0.0.0.0:4222 --http 127.0.0.1:8222 \
    --auth-user app --auth-password '$2a$11$…' \
    --server-tlscert server.pem --server-tlskey server-key.pem
  jetq server --store-dir ./n1 --name n1 --listen 0.0.0.0:4222 \
    --cluster-name jetq --cluster-listen 0.0.0.0:6222 \
    --routes nats-route://10.0.0.1:6222,nats-route://10.0.0.2:6222,nats-route://10.0.0.3:6222
  jetq server --config /etc/nats/jetq.conf`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := sf.options(cmd)
			if err != nil {
				return err
			}
			level := slog.LevelInfo
			if sf.debug {
				level = slog.LevelDebug
			}
			// The server's log goes to stderr: stdout carries only the
			// lines scripts wait for (ready, monitoring, stopping).
			log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
			srv, err := embedded.Start(cmd.Context(), append(opts, embedded.WithLogger(log))...)
			if errors.Is(err, embedded.ErrInvalidOption) {
				return flagError{err}
			}
			if err != nil {
				return err
			}
			defer srv.Shutdown()
			if u := srv.MonitorURL(); u != "" {
				fmt.Fprintf(g.stdout, "jetq server monitoring: %s/varz\n", u)
			}
			fmt.Fprintf(g.stdout, "jetq server ready: %s (store %s, server name %s)\n", srv.ClientURL(), srv.StoreDir(), srv.Name())
			<-cmd.Context().Done() // main cancels it on SIGINT or SIGTERM
			fmt.Fprintln(g.stdout, "jetq server stopping")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&sf.listen, "listen", "127.0.0.1:4222", "client address to listen on (host:port; port 0 picks one)")
	f.StringVar(&sf.storeDir, "store-dir", "", "directory for JetStream data (required unless --config sets store_dir; kept across restarts, locked while running)")
	f.StringVar(&sf.name, "name", "", "server name (default: one generated on the first start and kept in store-dir/jetq.server_name)")
	f.BoolVar(&sf.debug, "debug", false, "log the server's debug output")
	f.StringVar(&sf.clusterName, "cluster-name", "", "name of the JetStream cluster this node joins")
	f.StringVar(&sf.clusterListen, "cluster-listen", "", "address to listen on for routes from the other nodes (host:port)")
	f.StringSliceVar(&sf.routes, "routes", nil, "route URLs of every node, this one's included (comma separated)")
	f.StringVar(&sf.config, "config", "", "nats-server configuration file to start from; explicit flags override it")
	f.StringVar(&sf.authUser, "auth-user", "", "user name clients must present (with --auth-password)")
	f.StringVar(&sf.authPassword, "auth-password", "", "password of --auth-user, plain or a bcrypt hash ($2a$…)")
	f.StringVar(&sf.authToken, "auth-token", "", "token clients must present, plain or a bcrypt hash")
	f.StringArrayVar(&sf.authNKeys, "auth-nkey", nil, "public user nkey (U…) allowed to connect; repeatable")
	f.StringVar(&sf.tlsCert, "server-tlscert", "", "certificate file the server presents to clients (PEM; enables TLS)")
	f.StringVar(&sf.tlsKey, "server-tlskey", "", "private key file of --server-tlscert (PEM)")
	f.StringVar(&sf.tlsCA, "server-tlsca", "", "CA file to verify client certificates; clients without one are refused")
	f.StringVar(&sf.clusterTLSCert, "cluster-tlscert", "", "certificate file for the routes between nodes (PEM)")
	f.StringVar(&sf.clusterTLSKey, "cluster-tlskey", "", "private key file of --cluster-tlscert (PEM)")
	f.StringVar(&sf.clusterTLSCA, "cluster-tlsca", "", "CA file every node's route certificate must be signed by")
	f.StringVar(&sf.monitor, "http", "", "address of the HTTP monitoring endpoint, e.g. 127.0.0.1:8222 (default: none)")
	f.StringVar(&sf.syncInterval, "sync", "1s", "how often JetStream fsyncs to disk: a duration such as 1s or 2m, or 'always'")
	return cmd
}

// options checks the flags of cmd and turns them into embedded options
// (without the logger). Errors are usage errors.
func (sf *serverFlags) options(cmd *cobra.Command) ([]embedded.Option, error) {
	flags := cmd.Flags()
	for _, p := range clientFlagInstead {
		name, instead := p[0], p[1]
		if fl := flags.Lookup(name); fl != nil && fl.Changed {
			return nil, usagef("--%s is a client flag and does not configure jetq server; use %s", name, instead)
		}
	}
	// Changed, not the value: a flag left at its default must not
	// override what --config sets.
	given := flags.Changed
	var opts []embedded.Option
	switch {
	case sf.storeDir != "":
		opts = append(opts, embedded.WithStoreDir(sf.storeDir))
	case sf.config == "":
		return nil, usagef("server needs --store-dir: the directory that keeps the queues")
	default:
		o, err := server.ProcessConfigFile(sf.config)
		if err != nil {
			return nil, usagef("--config %s: %v", sf.config, err)
		}
		if o.StoreDir == "" {
			return nil, usagef("server needs --store-dir, or a jetstream store_dir in --config %s", sf.config)
		}
	}
	if sf.config != "" {
		opts = append(opts, embedded.WithConfigFile(sf.config))
	}
	// With a config file its listen address stands unless --listen is given.
	if sf.config == "" || given("listen") {
		opts = append(opts, embedded.WithListen(sf.listen))
	}
	if sf.name != "" {
		opts = append(opts, embedded.WithServerName(sf.name))
	}
	if sf.clusterName != "" || sf.clusterListen != "" || len(sf.routes) > 0 {
		if sf.name == "" {
			return nil, usagef("a cluster node needs a --name of its own")
		}
		opts = append(opts, embedded.WithCluster(sf.clusterName, sf.clusterListen, sf.routes...))
	}
	if given("auth-user") || given("auth-password") {
		if sf.authUser == "" || sf.authPassword == "" {
			return nil, usagef("--auth-user and --auth-password go together")
		}
		opts = append(opts, embedded.WithUser(sf.authUser, sf.authPassword))
	}
	// Given, not non-empty: an empty --auth-token reaches embedded and is
	// refused there, rather than leaving the server open.
	if given("auth-token") {
		opts = append(opts, embedded.WithToken(sf.authToken))
	}
	if len(sf.authNKeys) > 0 {
		opts = append(opts, embedded.WithNKeys(sf.authNKeys...))
	}
	if sf.tlsCert != "" || sf.tlsKey != "" || sf.tlsCA != "" {
		if sf.tlsCert == "" || sf.tlsKey == "" {
			return nil, usagef("--server-tlscert and --server-tlskey go together (--server-tlsca is optional)")
		}
		opts = append(opts, embedded.WithTLS(sf.tlsCert, sf.tlsKey, sf.tlsCA))
	}
	if sf.clusterTLSCert != "" || sf.clusterTLSKey != "" || sf.clusterTLSCA != "" {
		if sf.clusterTLSCert == "" || sf.clusterTLSKey == "" || sf.clusterTLSCA == "" {
			return nil, usagef("--cluster-tlscert, --cluster-tlskey and --cluster-tlsca go together")
		}
		opts = append(opts, embedded.WithClusterTLS(sf.clusterTLSCert, sf.clusterTLSKey, sf.clusterTLSCA))
	}
	if sf.monitor != "" {
		opts = append(opts, embedded.WithMonitoring(sf.monitor))
	}
	// Without --sync a config file's sync_interval stands; embedded's default is 1s too.
	if sf.config == "" || given("sync") {
		o, err := syncOption(sf.syncInterval)
		if err != nil {
			return nil, err
		}
		opts = append(opts, o)
	}
	return opts, nil
}

// optionFlags names, for each embedded option the server command sets, the
// flag that sets it; a longer name comes before its prefix.
var optionFlags = strings.NewReplacer(
	"WithStoreDir", "--store-dir",
	"WithListen", "--listen",
	"WithServerName", "--name",
	"WithClusterTLS", "--cluster-tlscert/--cluster-tlskey/--cluster-tlsca",
	"WithCluster", "--cluster-name/--cluster-listen/--routes",
	"WithUser", "--auth-user/--auth-password",
	"WithToken", "--auth-token",
	"WithNKeys", "--auth-nkey",
	"WithTLS", "--server-tlscert/--server-tlskey/--server-tlsca",
	"WithMonitoring", "--http",
	"WithSyncInterval", "--sync",
	"WithSyncAlways", "--sync always",
	"WithConfigFile", "--config",
)

// flagError is an invalid-option error of embedded told in flags: the user
// of jetq server gave flags, not Go options.
type flagError struct{ err error }

func (e flagError) Error() string {
	return strings.ReplaceAll(optionFlags.Replace(e.err.Error()), "embedded: invalid option: ", "")
}
func (e flagError) Unwrap() error { return e.err }

// syncOption parses --sync.
func syncOption(v string) (embedded.Option, error) {
	if strings.EqualFold(v, "always") {
		return embedded.WithSyncAlways(), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return nil, usagef("--sync %q: want a positive duration such as 1s or 2m, or 'always'", v)
	}
	return embedded.WithSyncInterval(d), nil
}
