package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/telemetry"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "HTTP address")
	flag.StringVar(&cfg.dataDir, "data", filepath.Join(os.TempDir(), "jetq-http-hybrid"), "directory for uploads and the embedded server's store")
	flag.DurationVar(&cfg.processTime, "process-time", 5*time.Second, "how long processing an upload takes (more than 30 s in real life)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(cfg, log); err != nil {
		log.Error("http-hybrid stopped", "error", err)
		os.Exit(1)
	}
}

func run(cfg config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Traces (and metrics) go over OTLP when a collector is configured, as
	// the OTEL_* variables say; without one the otel globals trace nothing.
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		shutdown, err := telemetry.Setup(ctx, "http-hybrid")
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// Spans or metrics the collector never got: worth a word, not a failed exit.
			if err := shutdown(sctx); err != nil {
				log.Warn("telemetry lost data", "error", err)
			}
		}()
	}

	js, closeNATS, err := connect(ctx, cfg.dataDir, log)
	if err != nil {
		return err
	}
	defer closeNATS()
	a, err := newApp(js, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	a.serving("http://" + ln.Addr().String())
	srv := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- a.runWorker(ctx) }()
	go func() { errc <- srv.Serve(ln) }()
	log.Info("http-hybrid listening", "url", "http://"+ln.Addr().String())

	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	log.Info("stopping: no new requests, finishing in-process work, draining workers")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	a.background.Wait()
	return a.stopWorker(sctx)
}

// connect uses NATS_URL when set and an embedded server otherwise; the
// returned func closes what connect opened.
func connect(ctx context.Context, dataDir string, log *slog.Logger) (jetstream.JetStream, func(), error) {
	var nc *nats.Conn
	var err error
	closeAll := func() {}
	if url := os.Getenv("NATS_URL"); url != "" {
		if nc, err = nats.Connect(url, nats.MaxReconnects(-1)); err != nil {
			return nil, nil, err
		}
		log.Info("using NATS", "url", url)
		closeAll = nc.Close
	} else {
		srv, err := embedded.Start(ctx, embedded.WithStoreDir(filepath.Join(dataDir, "nats")))
		if err != nil {
			return nil, nil, err
		}
		if nc, err = srv.Connect(); err != nil {
			srv.Shutdown()
			return nil, nil, err
		}
		log.Info("using an embedded NATS server", "store", srv.StoreDir())
		closeAll = func() { nc.Close(); srv.Shutdown() }
	}
	js, err := jetstream.New(nc)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return js, closeAll, nil
}
