package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	server, creds, nkey, user, password, token string
	tlsCert, tlsKey, tlsCA                     string
	context                                    string
	prefix                                     string
	timeout                                    time.Duration
	json, version                              bool

	stdin          input
	stdout, stderr io.Writer
	getenv         func(string) string
}

// newRootEnv builds the command tree, reading the environment through getenv.
func newRootEnv(stdin input, stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := &cobra.Command{
		Use:   "jetq",
		Short: "Operate jetq task queues on NATS JetStream",
		Long: "jetq inspects and replays dead-lettered tasks, shows the queues, enqueues tasks by hand,\n" +
			"lists tasks by state and deletes, runs, cancels and retries them, shows and cancels\n" +
			"workflows, lists and cancels delayed and periodic tasks and runs an embedded NATS server\n" +
			"with JetStream.\n\n" +
			"It connects as the nats CLI does: flags first, then the NATS_* environment variables, then\n" +
			"the nats context named by --context or NATS_CONTEXT, or else the one 'nats context select' chose.",
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.version {
				return g.printVersion(cmd.Context())
			}
			return cmd.Help()
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	f := root.PersistentFlags()
	f.StringVarP(&g.server, "server", "s", "", "NATS server URLs, comma separated (env NATS_URL; default "+nats.DefaultURL+")")
	f.StringVar(&g.context, "context", "", "nats CLI context to connect with (env NATS_CONTEXT; default the selected one, if any)")
	f.StringVar(&g.creds, "creds", "", "user credentials file (env NATS_CREDS)")
	f.StringVar(&g.nkey, "nkey", "", "user NKey seed file (env NATS_NKEY)")
	f.StringVar(&g.user, "user", "", "user name (env NATS_USER)")
	f.StringVar(&g.password, "password", "", "password (env NATS_PASSWORD)")
	f.StringVar(&g.token, "token", "", "authentication token (env NATS_TOKEN)")
	f.StringVar(&g.tlsCert, "tlscert", "", "TLS client certificate file (env NATS_CERT)")
	f.StringVar(&g.tlsKey, "tlskey", "", "TLS client private key file (env NATS_KEY)")
	f.StringVar(&g.tlsCA, "tlsca", "", "TLS CA certificate file to verify the server (env NATS_CA)")
	// The spellings of earlier jetq releases.
	for alias, v := range map[string]*string{"tls-cert": &g.tlsCert, "tls-key": &g.tlsKey, "tls-ca": &g.tlsCA} {
		f.StringVar(v, alias, "", "same as --"+strings.ReplaceAll(alias, "-", ""))
		_ = f.MarkHidden(alias)
	}
	f.StringVar(&g.prefix, "prefix", "jetq", "name prefix of the jetq streams")
	f.DurationVar(&g.timeout, "timeout", 10*time.Second, "how long to wait for the server")
	f.BoolVar(&g.json, "json", false, "print JSON instead of tables, and errors as JSON on stderr")
	root.Flags().BoolVar(&g.version, "version", false, "print the versions of jetq and of the server, if one is reachable")

	root.AddCommand(newServerCmd(g), newEnqueueCmd(g), newQueuesCmd(g), newDLQCmd(g), newScheduledCmd(g), newPeriodicCmd(g), newVersionCmd(g), newTaskCmd(g), newTasksCmd(g), newWorkflowCmd(g), newWorkersCmd(g), newDashboardCmd(g))
	return root
}

// connSettings is how to connect: the flags merged with the environment and
// the nats context.
type connSettings struct {
	url, urlFrom                     string // urlFrom says where url came from, for errors
	user, password, token            string
	creds, nkey                      string
	cert, key, ca                    string
	tlsFirst                         bool
	inboxPrefix, jsDomain, jsAPIPref string
}

// settings merges, setting by setting, the flags, then the environment
// variables the nats CLI reads, then the context named by --context or
// NATS_CONTEXT, or else the selected context, if there is one.
func (g *globals) settings() (connSettings, error) {
	getenv := g.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	name := g.context
	if name == "" {
		name = getenv("NATS_CONTEXT")
	}
	nctx, err := loadContext(name, getenv)
	if err != nil {
		return connSettings{}, err
	}
	if nctx == nil {
		nctx = &natsContext{}
	}
	pick := func(flag, env, fromCtx string) string {
		if flag != "" {
			return flag
		}
		if v := getenv(env); v != "" {
			return v
		}
		return fromCtx
	}
	s := connSettings{
		cert:        pick(g.tlsCert, "NATS_CERT", nctx.Cert),
		key:         pick(g.tlsKey, "NATS_KEY", nctx.Key),
		ca:          pick(g.tlsCA, "NATS_CA", nctx.CA),
		tlsFirst:    nctx.TLSFirst,
		inboxPrefix: nctx.InboxPrefix,
		jsDomain:    nctx.JSDomain,
		jsAPIPref:   nctx.JSAPIPrefix,
	}
	switch {
	case g.server != "":
		s.url, s.urlFrom = g.server, "--server"
	case getenv("NATS_URL") != "":
		s.url, s.urlFrom = getenv("NATS_URL"), "NATS_URL"
	case nctx.URL != "":
		s.url, s.urlFrom = nctx.URL, fmt.Sprintf("context %q", nctx.name)
	default:
		s.url, s.urlFrom = nats.DefaultURL, "the default"
	}
	// Credentials are taken as a whole from the flags and the environment,
	// or else from the context: a --creds must not be mixed with the
	// context's user and password.
	s.user = pick(g.user, "NATS_USER", "")
	s.password = pick(g.password, "NATS_PASSWORD", "")
	s.token = pick(g.token, "NATS_TOKEN", "")
	s.creds = pick(g.creds, "NATS_CREDS", "")
	s.nkey = pick(g.nkey, "NATS_NKEY", "")
	if s.user == "" && s.password == "" && s.token == "" && s.creds == "" && s.nkey == "" {
		s.user, s.password, s.token, s.creds, s.nkey = nctx.User, nctx.Password, nctx.Token, nctx.Creds, nctx.NKey
	}
	return s, nil
}

// options are the connection options of s.
func (s connSettings) options(timeout time.Duration) ([]nats.Option, error) {
	opts := []nats.Option{nats.Name("jetq-cli"), nats.Timeout(timeout)}
	if s.creds != "" && s.nkey != "" {
		return nil, usagef("give a credentials file (--creds) or an NKey seed (--nkey), not both")
	}
	if s.creds != "" {
		opts = append(opts, nats.UserCredentials(s.creds))
	}
	if s.nkey != "" {
		o, err := nats.NkeyOptionFromSeed(s.nkey)
		if err != nil {
			return nil, fmt.Errorf("nkey seed %s: %w", s.nkey, err)
		}
		opts = append(opts, o)
	}
	if s.user != "" || s.password != "" {
		opts = append(opts, nats.UserInfo(s.user, s.password))
	}
	if s.token != "" {
		opts = append(opts, nats.Token(s.token))
	}
	if (s.cert == "") != (s.key == "") {
		return nil, usagef("--tlscert and --tlskey go together")
	}
	if s.cert != "" {
		opts = append(opts, nats.ClientCert(s.cert, s.key))
	}
	if s.ca != "" {
		opts = append(opts, nats.RootCAs(s.ca))
	}
	// A CA or a client certificate is given for a server that speaks TLS:
	// require it, so that a plain-text server is refused rather than
	// handed the credentials.
	if s.cert != "" || s.ca != "" || s.tlsFirst {
		opts = append(opts, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	if s.tlsFirst {
		opts = append(opts, nats.TLSHandshakeFirst())
	}
	if s.inboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(s.inboxPrefix))
	}
	return opts, nil
}

// dial connects with s, explaining a failure to find a server.
func (s connSettings) dial(timeout time.Duration) (*nats.Conn, error) {
	opts, err := s.options(timeout)
	if err != nil {
		return nil, err
	}
	if err := checkSchemes(s.url, s.urlFrom); err != nil {
		return nil, err
	}
	nc, err := nats.Connect(s.url, opts...)
	if err != nil {
		err = fmt.Errorf("connect to %s (from %s): %w", redactURLs(s.url), s.urlFrom, err)
		if errors.Is(err, nats.ErrNoServers) {
			err = fmt.Errorf("%w; is a NATS server running there? Choose one with --server, NATS_URL or --context", err)
		}
		return nil, err
	}
	return nc, nil
}

// checkSchemes refuses URLs that do not speak the NATS protocol: a server's
// http:// monitoring port answers the client with an HTTP error, which
// nats.Connect reports as a bare EOF.
func checkSchemes(urls, from string) error {
	for _, p := range strings.Split(urls, ",") {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		if err != nil || !strings.Contains(p, "://") {
			continue // host:port; nats.Connect says what is wrong with the rest
		}
		switch strings.ToLower(u.Scheme) {
		case "nats", "tls", "ws", "wss":
		case "http", "https":
			return usagef("%s (from %s) is an HTTP URL, but jetq speaks the NATS protocol: give the server's client URL, such as nats://%s (4222 by default; an HTTP port such as the monitoring port serves no clients)",
				redactURLs(p), from, net.JoinHostPort(u.Hostname(), "4222"))
		default:
			return usagef("%s (from %s): unknown scheme %q; use nats://, tls://, ws:// or wss://", redactURLs(p), from, u.Scheme)
		}
	}
	return nil
}

// redactURLs hides the passwords in a comma-separated list of URLs.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// connect opens a connection with the global flags and returns it with its
// JetStream context.
func (g *globals) connect(ctx context.Context) (*nats.Conn, jetstream.JetStream, error) {
	s, err := g.settings()
	if err != nil {
		return nil, nil, err
	}
	nc, err := s.dial(g.timeout)
	if err != nil {
		return nil, nil, err
	}
	// --timeout bounds each JetStream request too, not only the dial: a
	// server without JetStream, or a leader election, must not hang jetq.
	jsOpts := []jetstream.JetStreamOpt{jetstream.WithDefaultTimeout(g.timeout)}
	var js jetstream.JetStream
	switch {
	// A context's domain or API prefix reaches JetStream across a leaf
	// node or an account export, as in the nats CLI.
	case s.jsDomain != "":
		js, err = jetstream.NewWithDomain(nc, s.jsDomain, jsOpts...)
	case s.jsAPIPref != "":
		js, err = jetstream.NewWithAPIPrefix(nc, s.jsAPIPref, jsOpts...)
	default:
		js, err = jetstream.New(nc, jsOpts...)
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// withJS runs fn with a connection that is closed afterwards.
func (g *globals) withJS(cmd *cobra.Command, fn func(ctx context.Context, js jetstream.JetStream) error) error {
	ctx := cmd.Context()
	nc, js, err := g.connect(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	return fn(ctx, js)
}

// quietLog discards the library's log: the CLI reports through its output.
func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// printJSON writes v as indented JSON.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows under a header, aligned.
func (g *globals) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// isCobraUsage recognises the usage errors cobra makes itself.
func isCobraUsage(err error) bool {
	// cobra makes them with fmt.Errorf, with no type or sentinel to test:
	// their text is all there is to tell them by.
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// exactArgs is cobra.ExactArgs with a usage error and the argument names.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == len(names):
			return nil
		case len(names) == 0:
			return usagef("%s takes no arguments; got %q", cmd.CommandPath(), args)
		}
		return usagef("%s takes %d argument(s), %s; got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
	}
}
