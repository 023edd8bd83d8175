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
	"github.com/jetq/jetq/dlq"
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
	flow := flag.Bool("flow", false, "handle the results and workflows scenarios' tasks, with a dead-letter forwarder, instead of e2e.work")
	snooze := flag.Bool("snooze", false, "handle the snooze scenario's task, e2e.snooze, instead of e2e.work")
	cancel := flag.Bool("cancel", false, "handle the cancel scenario's task, e2e.cancellable, instead of e2e.work")
	flag.Parse()
	if err := run(*servers, *out, *name, *replicas, *concurrency, *flow, *snooze, *cancel); err != nil {
		fmt.Fprintln(os.Stderr, "e2eworker:", err)
		os.Exit(1)
	}
}

func run(servers, out, name string, replicas, concurrency int, flow, snooze, cancel bool) error {
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
	line := func(format string, args ...any) error {
		mu.Lock()
		defer mu.Unlock()
		_, err := fmt.Fprintf(f, format+"\n", args...)
		return err
	}
	topo := topology.Topology{Replicas: replicas}
	reg := tasks.NewRegistry()
	var opts []consumer.Option
	if flow {
		handleFlow(reg, name, line)
		fwd, err := dlq.NewForwarder(js, dlq.WithLogger(log), dlq.WithTopology(topo))
		if err != nil {
			return err
		}
		fctx, stopFwd := context.WithCancel(ctx)
		fwdDone := make(chan error, 1)
		go func() { fwdDone <- fwd.Run(fctx) }()
		defer func() {
			stopFwd()
			if err := <-fwdDone; err != nil {
				log.LogAttrs(context.Background(), slog.LevelError, "forwarder", slog.Any("error", err))
			}
		}()
	} else if snooze {
		opts = append(opts, handleSnooze(reg, line))
	} else if cancel {
		handleCancel(reg, line)
	} else if *rate {
		handleRate(reg, line) // rate.go
	} else if *keys {
		handleKeys(reg, line) // keys.go
	} else {
		tasks.MustHandle(reg, e2etask.Work, func(ctx context.Context, t *tasks.Task[e2etask.Payload]) error {
			if err := work(ctx, t.Payload.WorkMillis); err != nil {
				return err
			}
			return line("%s %d", t.ID, time.Now().UnixNano())
		})
	}
	w, err := consumer.New(js, reg, append(opts, consumer.WithLogger(log), consumer.WithTopology(topo),
		consumer.WithConcurrency(concurrency), consumer.WithShutdownTimeout(5*time.Second))...)
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// work waits ms milliseconds, or until ctx is done.
func work(ctx context.Context, ms int) error {
	if ms <= 0 {
		return nil
	}
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
