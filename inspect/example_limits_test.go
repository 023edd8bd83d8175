package inspect_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Read the places a concurrency per key takes: two of customer acme's
// three invoices run, the third waits for a place.
func ExampleInspector_Limits() {
	ctx := context.Background()
	js, stop := connect(ctx)
	defer stop()
	quiet := slog.New(slog.DiscardHandler)
	send := tasks.Define[Invoice]("invoice.send", tasks.WithKeyConcurrency(2))
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, send, func(ctx context.Context, _ *tasks.Task[Invoice]) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet), consumer.WithPresenceInterval(100*time.Millisecond))
	p, _ := producer.New(js, producer.WithLogger(quiet))
	in, _ := inspect.New(js, inspect.WithLogger(quiet))
	wctx, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() { close(release); stopWorker(); <-done }()
	for range 3 {
		if _, err := producer.Enqueue(ctx, p, send, Invoice{Customer: "acme"}, producer.WithKey("acme")); err != nil {
			log.Fatal(err)
		}
	}

	// The limits are the live workers' definition, the places the
	// server's: read until the worker has said it serves the type and
	// taken two places.
	var l inspect.Limits
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		l, err = in.Limit(ctx, "default", "invoice.send")
		if err == nil && l.KeyConcurrency.Running == 2 {
			break
		}
	}
	c := l.KeyConcurrency
	fmt.Printf("%s: at most %d a key; %d running of %d key(s)\n", l.Task, c.Limit, c.Running, c.Keys)
	for _, k := range c.Top {
		fmt.Printf("  %s: %d\n", k.Key, k.Count)
	}
	// Output:
	// invoice.send: at most 2 a key; 2 running of 1 key(s)
	//   acme: 2
}
