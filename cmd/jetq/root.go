package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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
	server, creds, user, password, token string
	tlsCert, tlsKey, tlsCA               string
	prefix                               string
	timeout                              time.Duration
	json                                 bool

	stdout, stderr io.Writer
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "jetq",
		Short: "Operate jetq task queues on NATS JetStream",
		Long: "jetq inspects and replays dead-lettered tasks, shows the queues, enqueues tasks by hand,\n" +
			"lists and cancels delayed and periodic tasks and runs an embedded NATS server with JetStream.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	f := root.PersistentFlags()
	f.StringVarP(&g.server, "server", "s", envOr("NATS_URL", nats.DefaultURL), "NATS server URLs, comma separated (env NATS_URL)")
	f.StringVar(&g.creds, "creds", "", "user credentials file")
	f.StringVar(&g.user, "user", "", "user name")
	f.StringVar(&g.password, "password", "", "password")
	f.StringVar(&g.token, "token", "", "authentication token")
	f.StringVar(&g.tlsCert, "tls-cert", "", "client certificate file")
	f.StringVar(&g.tlsKey, "tls-key", "", "client private key file")
	f.StringVar(&g.tlsCA, "tls-ca", "", "CA certificate file to verify the server")
	f.StringVar(&g.prefix, "prefix", "jetq", "name prefix of the jetq streams")
	f.DurationVar(&g.timeout, "timeout", 10*time.Second, "how long to wait for the server")
	f.BoolVar(&g.json, "json", false, "print JSON instead of tables")

	root.AddCommand(newServerCmd(g), newEnqueueCmd(g), newQueuesCmd(g), newDLQCmd(g), newScheduledCmd(g), newPeriodicCmd(g), newTaskCmd(g))
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// connect opens a connection with the global flags and returns it with its
// JetStream context.
func (g *globals) connect(ctx context.Context) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{nats.Name("jetq-cli"), nats.Timeout(g.timeout)}
	if g.creds != "" {
		opts = append(opts, nats.UserCredentials(g.creds))
	}
	if g.user != "" || g.password != "" {
		opts = append(opts, nats.UserInfo(g.user, g.password))
	}
	if g.token != "" {
		opts = append(opts, nats.Token(g.token))
	}
	if (g.tlsCert == "") != (g.tlsKey == "") {
		return nil, nil, usagef("--tls-cert and --tls-key go together")
	}
	if g.tlsCert != "" {
		opts = append(opts, nats.ClientCert(g.tlsCert, g.tlsKey))
	}
	if g.tlsCA != "" {
		opts = append(opts, nats.RootCAs(g.tlsCA))
	}
	if g.tlsCert != "" || g.tlsCA != "" {
		opts = append(opts, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	nc, err := nats.Connect(g.server, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", g.server, err)
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(g.timeout))
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
		if len(args) != len(names) {
			return usagef("%s takes %d argument(s): %s; got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}
