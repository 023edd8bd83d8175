package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

func main() {
	servers := flag.String("servers", nats.DefaultURL, "NATS URLs, comma separated")
	out := flag.String("out", "", "file to append handled task IDs to")
	name := flag.String("name", "e2eworker", "worker name")
	replicas := flag.Int("replicas", 3, "stream and consumer replicas")
	concurrency := flag.Int("concurrency", 8, "handlers at once")
	flag.Parse()
	if err := run(*servers, *out, *name, *replicas, *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "e2eworker:", err)
		os.Exit(1)
	}
}

func run(servers, out, name string, replicas, concurrency int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("worker", name)
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	nc, err := nats.Connect(servers, e2etask.ConnectOptions(name)...)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, e2etask.Work, func(ctx context.Context, t *tasks.Task[e2etask.Payload]) error {
		select {
		case <-time.After(time.Duration(t.Payload.WorkMillis) * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
		defer mu.Unlock()
		_, err := fmt.Fprintf(f, "%s %d\n", t.ID, time.Now().UnixNano())
		return err
	})
	w, err := consumer.New(js, reg, consumer.WithLogger(log), consumer.WithTopology(topology.Topology{Replicas: replicas}),
		consumer.WithConcurrency(concurrency), consumer.WithShutdownTimeout(5*time.Second))
	if err != nil {
		return err
	}
	return w.Run(ctx)
}
