package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/jetq/jetq/embedded"
)

func newServerCmd(g *globals) *cobra.Command {
	var listen, storeDir, name, clusterName, clusterListen string
	var routes []string
	var debug bool
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a NATS server with JetStream for jetq",
		Long: "server runs an embedded nats-server with JetStream on a TCP port, keeping its data in\n" +
			"--store-dir, until interrupted: a single-binary deployment or a laptop setup. With\n" +
			"--cluster-name, --cluster-listen and --routes it is one node of a JetStream cluster;\n" +
			"give every node the route URLs of all nodes, its own included, and a unique --name.",
		Example: `  jetq server --store-dir ./data
  jetq server --store-dir ./n1 --name n1 --listen 0.0.0.0:4222 \
    --cluster-name jetq --cluster-listen 0.0.0.0:6222 \
    --routes nats-route://10.0.0.1:6222,nats-route://10.0.0.2:6222,nats-route://10.0.0.3:6222`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if storeDir == "" {
				return usagef("server needs --store-dir: the directory that keeps the queues")
			}
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
			opts := []embedded.Option{embedded.WithListen(listen), embedded.WithStoreDir(storeDir), embedded.WithLogger(log)}
			if name != "" {
				opts = append(opts, embedded.WithServerName(name))
			}
			if clusterName != "" || clusterListen != "" || len(routes) > 0 {
				if name == "" {
					return usagef("a cluster node needs a --name of its own")
				}
				opts = append(opts, embedded.WithCluster(clusterName, clusterListen, routes...))
			}
			srv, err := embedded.Start(cmd.Context(), opts...)
			if err != nil {
				return err
			}
			defer srv.Shutdown()
			fmt.Fprintf(g.stdout, "jetq server ready: %s (store %s)\n", srv.ClientURL(), srv.StoreDir())
			<-cmd.Context().Done()
			fmt.Fprintln(g.stdout, "jetq server stopping")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:4222", "client address to listen on (host:port; port 0 picks one)")
	f.StringVar(&storeDir, "store-dir", "", "directory for JetStream data (required; kept across restarts)")
	f.StringVar(&name, "name", "", "server name (default: generated)")
	f.BoolVar(&debug, "debug", false, "log the server's debug output")
	f.StringVar(&clusterName, "cluster-name", "", "name of the JetStream cluster this node joins")
	f.StringVar(&clusterListen, "cluster-listen", "", "address to listen on for routes from the other nodes (host:port)")
	f.StringSliceVar(&routes, "routes", nil, "route URLs of every node, this one's included (comma separated)")
	return cmd
}
