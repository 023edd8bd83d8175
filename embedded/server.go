package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Server is a NATS server with JetStream running in this process, as
// returned by [Start]. Its methods are safe for concurrent use. The zero
// value is not usable.
type Server struct {
	ns         *server.Server
	log        *slogLogger
	storeDir   string
	ownsDir    bool          // storeDir was created by Start and is removed by Shutdown
	release    func()        // frees a WithStoreDir dir for other servers; nil for a temp dir
	clientURL  string        // "" without a TCP listener
	monitorURL string        // "" without WithMonitoring
	started    chan struct{} // closed when ns.Start returns

	closed   atomic.Bool
	shutdown sync.Once
}

// Start starts a server with JetStream enabled and returns once it accepts
// connections and JetStream is usable.
//
// Without options the server has no TCP listener, keeps JetStream data in a
// new temporary directory, discards its log, is named "jetq-embedded-…" and
// limits JetStream to 1 GiB of memory and 10 GiB of disk; see the With*
// options. With [WithStoreDir] and no name, the server takes the name kept
// in the store directory (file jetq.server_name, written on the first
// start), so that it is the same on every start; see [Server.Name]. The
// server never installs signal handlers and never exits the process, even
// on a fatal server error.
//
// Start waits for the server until ctx is done or, if ctx has no deadline,
// for at most 10 s. Call [Server.Shutdown] when done with the server.
//
// Errors: an error wrapping [ErrInvalidOption] for invalid options (all
// problems are reported, joined); one wrapping ctx's error or
// [context.DeadlineExceeded] when the server is not ready in time; one
// wrapping [ErrStoreDirLocked] when another running server, of this process
// or another, holds the store directory (Start locks dir/jetq.lock before
// the store is opened, as nats-server itself does not lock it); one naming
// the port when the client, route or monitoring port is taken, before the
// server starts; otherwise the server's own reason, such as an unusable
// store directory or TLS files that cannot be loaded. On error nothing is
// left running and a temporary store directory is removed.
func Start(ctx context.Context, opts ...Option) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedded: start: %w", context.Cause(ctx))
	}
	cfg := newConfig(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}

	logger := slog.New(slog.DiscardHandler) // quiet unless asked for
	if cfg.loggerSet {
		logger = cfg.logger
		if logger == nil {
			logger = slog.Default()
		}
	}
	var base *server.Options
	if cfg.configFile != "" {
		o, err := server.ProcessConfigFile(cfg.configFile)
		if err != nil {
			return nil, fmt.Errorf("%w: WithConfigFile(%q): %v", ErrInvalidOption, cfg.configFile, err)
		}
		base = o
		if !cfg.dirSet && o.StoreDir != "" {
			cfg.storeDir, cfg.dirSet = o.StoreDir, true
		}
		if !cfg.nameSet && o.ServerName != "" {
			cfg.serverName, cfg.nameSet = o.ServerName, true
		}
	}
	s := &Server{storeDir: cfg.storeDir}
	name := cfg.serverName
	if cfg.dirSet {
		// Before the server exists: nats-server opens the store as it starts.
		release, err := claimStoreDir(cfg.storeDir)
		if err != nil {
			return nil, err
		}
		s.release = release
		if !cfg.nameSet {
			// The same name on every start, as a standalone nats-server
			// taking over the store is told to keep.
			if name, err = storeServerName(cfg.storeDir); err != nil {
				release()
				return nil, err
			}
		}
	} else {
		dir, err := os.MkdirTemp("", defaultNamePrefix+"*")
		if err != nil {
			return nil, fmt.Errorf("embedded: create temporary store dir: %w", err)
		}
		s.storeDir, s.ownsDir = dir, true
	}
	if name == "" {
		name = defaultNamePrefix + randomSuffix()
	}
	s.log = newSlogLogger(logger.With(slog.String(logKeyServer, name)))
	if err := s.start(ctx, cfg, name, base); err != nil {
		s.Shutdown()
		return nil, err
	}
	return s, nil
}

// start creates and runs the server and waits for it to be ready. The
// caller shuts s down on error.
func (s *Server) start(ctx context.Context, cfg *config, name string, base *server.Options) error {
	o, err := cfg.natsOptions(base, name, s.storeDir)
	if err != nil {
		return err
	}
	// nats-server logs "Server is ready" before it gives up on a port it
	// cannot bind; finding that first fails Start before anything runs.
	if err := portsFree(o); err != nil {
		return err
	}
	ns, err := server.NewServer(o)
	if err != nil {
		return fmt.Errorf("embedded: new server: %w", err)
	}
	s.ns = ns
	// Always install the adapter, even when discarding: without a logger the
	// server's Fatalf is silent and Start could not report why it failed.
	ns.SetLogger(s.log, s.log.debugEnabled(), false)

	// ctx's deadline if it has one, else our own; never both, so that the
	// error names the one that fired.
	deadline, hasDeadline := ctx.Deadline()
	var timeout <-chan time.Time
	if !hasDeadline {
		deadline = time.Now().Add(defaultReadyTimeout)
		timer := time.NewTimer(defaultReadyTimeout)
		defer timer.Stop()
		timeout = timer.C
	}

	s.started = make(chan struct{})
	go func() {
		defer close(s.started)
		ns.Start() // returns once started, or early after a Fatalf
	}()
	select {
	case <-s.started:
	case <-ctx.Done():
		return fmt.Errorf("embedded: start: server not ready: %w", context.Cause(ctx))
	case <-timeout:
		return fmt.Errorf("embedded: start: server not ready after %s: %w", defaultReadyTimeout, context.DeadlineExceeded)
	}
	select {
	case err := <-s.log.fatal:
		return fmt.Errorf("embedded: start: %w", err)
	default:
	}
	// Start has returned, so this is quick; it still reports listener errors.
	if !ns.ReadyForConnections(max(time.Until(deadline), 100*time.Millisecond)) {
		return fmt.Errorf("embedded: start: server not ready for connections: %w", context.DeadlineExceeded)
	}
	if !ns.JetStreamEnabled() {
		return fmt.Errorf("embedded: start: JetStream is not enabled in store dir %q", s.storeDir)
	}

	if !o.DontListen { // WithListen, or a config file's listen
		addr, ok := ns.Addr().(*net.TCPAddr)
		if !ok {
			return fmt.Errorf("embedded: start: no client listener on %s", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
		}
		s.clientURL = clientURL(o.Host, addr.Port)
	}
	if cfg.monitorSet {
		addr := ns.MonitorAddr()
		if addr == nil {
			return fmt.Errorf("embedded: start: no monitoring listener on %q", cfg.monitor)
		}
		s.monitorURL = "http" + strings.TrimPrefix(clientURL(o.HTTPHost, addr.Port), "nats")
	}
	return nil
}

// portsFree reports a fixed port of o that another listener holds: the
// client port, the route port and the monitoring port. Random ports
// (-1) and listeners left off are not checked. What takes a port between
// this check and the server's own listen is still reported by Start, from
// the server's fatal error.
func portsFree(o *server.Options) error {
	check := func(what, host string, port int) error {
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("embedded: start: %s port %d (%s) is taken; stop what listens there or choose another port: %w", what, port, addr, err)
		}
		return ln.Close()
	}
	if !o.DontListen {
		port := o.Port
		if port == 0 {
			port = server.DEFAULT_PORT
		}
		if port > 0 {
			if err := check("client", o.Host, port); err != nil {
				return err
			}
		}
	}
	if o.Cluster.Port > 0 {
		if err := check("route", o.Cluster.Host, o.Cluster.Port); err != nil {
			return err
		}
	}
	if o.HTTPPort > 0 {
		if err := check("monitoring", o.HTTPHost, o.HTTPPort); err != nil {
			return err
		}
	}
	return nil
}

// clientURL returns the URL a local client dials for a listener on host:port;
// a wildcard host is reached through loopback.
func clientURL(host string, port int) string {
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "nats://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// Connect opens a new client connection to s and returns it; the caller owns
// it and should close it before [Server.Shutdown].
//
// Without a TCP listener (the default) the connection is in-process
// ([nats.InProcessServer]): no socket, no port. It can reconnect only to
// this same server, so after Shutdown it keeps failing until its reconnect
// attempts run out or it is closed. With [WithListen] it dials
// [Server.ClientURL] and reconnects forever ([nats.MaxReconnects](-1)), so it
// can follow a new server started on the same address.
//
// opts are applied after these defaults and override them, e.g. [nats.Name].
// Safe for concurrent use.
//
// Errors: an error wrapping [ErrServerClosed] after Shutdown; otherwise the
// error from [nats.Connect].
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("embedded: connect: %w", ErrServerClosed)
	}
	var url string
	var base []nats.Option
	if s.clientURL == "" {
		base = []nats.Option{nats.InProcessServer(s.ns)}
	} else {
		url = s.clientURL
		base = []nats.Option{nats.MaxReconnects(-1)}
	}
	nc, err := nats.Connect(url, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("embedded: connect: %w", err)
	}
	return nc, nil
}

// ClientURL returns the URL of the TCP client listener, such as
// "nats://127.0.0.1:4222", with the chosen port when [WithListen] asked for
// a random one and 127.0.0.1 in place of a wildcard host; with
// [WithConfigFile] and no WithListen, the file's listener. It returns "" when
// the server has no listener (the default). Safe for concurrent use.
func (s *Server) ClientURL() string { return s.clientURL }

// MonitorURL returns the base URL of the HTTP monitoring endpoint opened by
// [WithMonitoring], such as "http://127.0.0.1:8222", with the chosen port
// and 127.0.0.1 in place of a wildcard host; append "/varz" or "/jsz". It
// returns "" without WithMonitoring. Safe for concurrent use.
func (s *Server) MonitorURL() string { return s.monitorURL }

// StoreDir returns the JetStream store directory given to [WithStoreDir] or,
// by default, the temporary one Start created (removed by [Server.Shutdown]).
// The server keeps its data in the "jetstream" subdirectory. Safe for
// concurrent use.
func (s *Server) StoreDir() string { return s.storeDir }

// Name returns the server's name: the one given to [WithServerName] or a
// config file's server_name; else, for a [WithStoreDir] directory, the name
// kept in its jetq.server_name file, the same on every start; else a new
// "jetq-embedded-…" name. Safe for concurrent use.
func (s *Server) Name() string { return s.ns.Name() }

// NATS returns the underlying nats-server for advanced use, such as
// monitoring calls (Varz, Jsz) or [server.Server.InProcessConn]. Shutting it
// down directly skips the store dir clean-up of [Server.Shutdown].
func (s *Server) NATS() *server.Server { return s.ns }

// Shutdown stops the server and returns once it has stopped: client
// connections are closed, JetStream is flushed to disk and the server's
// goroutines have exited. It then removes the store directory if Start
// created it; a directory given to [WithStoreDir] is kept. Failing to remove
// it is logged at Warn, not returned.
//
// Shutdown is idempotent and safe for concurrent use; every call returns
// after the first one has finished. Afterwards [Server.Connect] fails with
// [ErrServerClosed].
func (s *Server) Shutdown() {
	s.shutdown.Do(func() {
		s.closed.Store(true)
		if s.ns != nil {
			s.ns.Shutdown()
			if s.started != nil {
				<-s.started // Start may still run after a ctx timeout
			}
			s.ns.WaitForShutdown()
		}
		if s.release != nil {
			s.release()
		}
		if !s.ownsDir {
			return
		}
		if err := os.RemoveAll(s.storeDir); err != nil {
			s.log.l.LogAttrs(context.Background(), slog.LevelWarn, "embedded: remove temporary store dir",
				slog.String(logKeyStoreDir, s.storeDir), slog.Any(logKeyError, err))
		}
	})
}

// randomSuffix returns 8 random hex characters for default server names.
func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	return hex.EncodeToString(b[:])
}
