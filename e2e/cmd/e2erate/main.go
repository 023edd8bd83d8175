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
)

func main() {
	servers := flag.String("servers", nats.DefaultURL, "NATS URLs, comma separated")
	out := flag.String("out", "", "file to append handler starts to")
	name := flag.String("name", "e2erate", "worker name")
	concurrency := flag.Int("concurrency", 16, "handlers at once")
	flag.Parse()
	if err := run(*servers, *out, *name, *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "e2erate:", err)
		os.Exit(1)
	}
}

func run(servers, out, name string, concurrency int) error {
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
	handle := func(_ context.Context, t *tasks.Task[e2etask.Payload]) error {
		at := time.Now().UnixNano()
		key := tasks.KeyOf(t.Header)
		if key == "" {
			key = "-"
		}
		mu.Lock()
		defer mu.Unlock()
		_, err := fmt.Fprintf(f, "%s %s %s %d %d\n", t.Name, t.ID, key, at, t.Attempt)
		return err
	}
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, e2etask.RateTyped, handle)
	tasks.MustHandle(reg, e2etask.RateKeyed, handle)
	tasks.MustHandle(reg, e2etask.RateFree, handle)
	w, err := consumer.New(js, reg, consumer.WithLogger(log), consumer.WithConcurrency(concurrency),
		consumer.WithShutdownTimeout(5*time.Second))
	if err != nil {
		return err
	}
	return w.Run(ctx)
}
