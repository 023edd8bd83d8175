package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/metrics"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
)

// The task definitions.
type (
	Resize  struct{ Image string }
	Invoice struct {
		Customer string
		Cents    int
	}
)

var (
	ResizeImage = tasks.Define[Resize]("image.resize")
	SendInvoice = tasks.Define[Invoice]("invoice.send", tasks.WithQueue("billing"), tasks.WithMaxAttempts(1), tasks.WithStateTracking())
	Nightly     = tasks.Define[string]("report.nightly")
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve the dashboard on")
	runFor := flag.Duration("for", 0, "stop after this long (0: until interrupted)")
	flag.Parse()
	if err := run(*listen, *runFor); err != nil {
		fmt.Fprintln(os.Stderr, "dashboard:", err)
		os.Exit(1)
	}
}

func run(listen string, runFor time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, runFor)
		defer cancel()
	}
	quiet := slog.New(slog.DiscardHandler)
	srv, err := embedded.Start(ctx)
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	// One /metrics for the queue gauges and the worker's OTel instruments.
	m, err := metrics.New(js)
	if err != nil {
		return err
	}
	token := rand.Text() // at least 16 bytes, as actions need
	d, err := dashboard.New(js, dashboard.WithActions(token), dashboard.WithMetrics(m.Handler()), dashboard.WithLogger(quiet))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", d)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	web := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = web.Serve(ln) }()
	defer web.Close()
	fmt.Printf("dashboard on http://%s/ — sign in with %s to replay\n", ln.Addr(), token)

	// The worker.
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, ResizeImage, func(ctx context.Context, t *tasks.Task[Resize]) error {
		return sleep(ctx, 20*time.Millisecond)
	})
	tasks.MustHandle(reg, SendInvoice, func(ctx context.Context, t *tasks.Task[Invoice]) error {
		if t.Payload.Cents%5 == 0 {
			return tasks.Permanent(errors.New("payment provider: card declined"))
		}
		return sleep(ctx, 50*time.Millisecond)
	})
	tasks.MustHandle(reg, Nightly, func(context.Context, *tasks.Task[string]) error { return nil })
	w, err := consumer.New(js, reg, consumer.WithLogger(quiet), consumer.WithConcurrency(4),
		consumer.WithMiddleware(tracing.Consumer(tracing.WithMeterProvider(m.MeterProvider()))))
	if err != nil {
		return err
	}
	wctx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() { stopWorker(); <-done }()

	// The workload: a burst every second.
	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		return err
	}
	defer p.Close()
	if _, err := producer.Enqueue(ctx, p, Nightly, "catch-up", producer.WithDelay(time.Hour)); err != nil {
		return err
	}
	sched, err := schedule.New(js, schedule.WithLogger(quiet))
	if err != nil {
		return err
	}
	if err := schedule.Declare(ctx, sched, Nightly, schedule.Periodic{Name: "reports.nightly", Schedule: "0 30 2 * * *", TimeZone: "Europe/Berlin"}, "daily"); err != nil {
		return err
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for n := 0; ; n++ {
		for i := range 20 {
			if _, err := producer.Enqueue(ctx, p, ResizeImage, Resize{Image: fmt.Sprintf("photo-%d-%d.jpg", n, i)}); err != nil && ctx.Err() == nil {
				return err
			}
		}
		for i := range 5 {
			if _, err := producer.Enqueue(ctx, p, SendInvoice, Invoice{Customer: fmt.Sprintf("c%d", i), Cents: 100*n + 7*i}); err != nil && ctx.Err() == nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return summary(ln.Addr().String())
		case <-tick.C:
		}
	}
}

// summary prints what the dashboard's overview says at the end.
func summary(addr string) error {
	resp, err := http.Get("http://" + addr + "/api/overview")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var o dashboard.Overview
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		return err
	}
	for _, q := range o.Queues {
		fmt.Printf("%-8s %-15s pending %d, dead-lettered %d, scheduled %d\n", q.Queue, q.Task, q.Pending, q.DeadLettered, q.Scheduled)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
