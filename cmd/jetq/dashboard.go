package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/topology"
)

// tokenEnv is the environment variable the dashboard's action token is
// read from when --dashboard-token is not given.
const tokenEnv = "JETQ_DASHBOARD_TOKEN"

func newDashboardCmd(g *globals) *cobra.Command {
	var (
		listen, base, token string
		actions, hide       bool
	)
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve the web dashboard: queues, tasks, dead letters, workers, schedules, /metrics",
		Long: "dashboard serves jetq's web dashboard until interrupted, reading the server's own state on\n" +
			"every page: the overview of every queue with a live chart, a task by ID, the dead letters\n" +
			"(filtered and paged), the live workers and the schedules; and Prometheus metrics at /metrics.\n\n" +
			"It listens on 127.0.0.1:8080 unless --listen says otherwise. It only reads unless\n" +
			"--allow-actions is given; replay, delete and purge then need the token given with\n" +
			"--dashboard-token or " + tokenEnv + " (at least 16 bytes; `openssl rand -hex 16` makes one), entered on its\n" +
			"sign-in page or sent as \"Authorization: Bearer <token>\". --hide-payloads keeps task\n" +
			"payloads off every page.",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token == "" {
				token = g.getenv(tokenEnv)
			}
			// Only a token given as a flag asks for actions: the
			// environment may hold one for other runs.
			if !actions && token != "" && cmd.Flags().Changed("dashboard-token") {
				return usagef("--dashboard-token is for actions: add --allow-actions, or leave --dashboard-token out for a dashboard that only reads")
			}
			if actions && token == "" {
				return usagef("--allow-actions needs a token: give --dashboard-token or set %s (make one with `openssl rand -hex 16`)", tokenEnv)
			}
			return g.withJS(cmd, func(ctx context.Context, js jetstream.JetStream) error {
				// Unlike the other commands, the dashboard logs: each action
				// (what, how many, from where) is the operator's audit trail.
				opts := []dashboard.Option{dashboard.WithTopology(topology.Topology{Prefix: g.prefix}), dashboard.WithBasePath(base), dashboard.WithLogger(slog.New(slog.NewTextHandler(g.stderr, nil)))}
				if actions {
					opts = append(opts, dashboard.WithActions(token))
				}
				if hide {
					opts = append(opts, dashboard.WithHidePayloads())
				}
				d, err := dashboard.New(js, opts...)
				if err != nil {
					return usageError{err}
				}
				// Listen before printing, so that the address printed is the
				// one served, the port that :0 picked included.
				ln, err := net.Listen("tcp", listen)
				if err != nil {
					return fmt.Errorf("dashboard: listen on %s: %w", listen, err)
				}
				base = strings.TrimRight(base, "/") // as dashboard.WithBasePath does
				mux := http.NewServeMux()
				mux.Handle(base+"/", d)
				// ReadHeaderTimeout: a client that connects and never sends
				// its headers must not hold a connection open for ever.
				srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
				fmt.Fprintf(g.stdout, "jetq dashboard on http://%s%s/ (actions %s)\n", ln.Addr(), base, onOff(actions))
				errc := make(chan error, 1)
				go func() { errc <- srv.Serve(ln) }()
				select {
				case err := <-errc:
					return err
				case <-ctx.Done():
				}
				// ctx is done: the shutdown gets a context of its own, to let
				// the requests in flight (an action, say) finish.
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to serve on; loopback unless told otherwise")
	cmd.Flags().StringVar(&base, "base-path", "", "path to serve under, such as /jetq; a proxy in front must forward it unchanged")
	cmd.Flags().BoolVar(&actions, "allow-actions", false, "allow replay, delete and purge to holders of the token")
	cmd.Flags().StringVar(&token, "dashboard-token", "", "the token actions need (default $"+tokenEnv+")")
	cmd.Flags().BoolVar(&hide, "hide-payloads", false, "keep task payloads off every page")
	return cmd
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
