package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Pause a queue while its invoices wait, and resume it: the server hands
// the worker none of the queue's tasks until the resume.
func ExampleInspector_Pause() {
	ctx := context.Background()
	js, stop := connect(ctx)
	defer stop()
	quiet := slog.New(slog.DiscardHandler)
	send := tasks.Define[Invoice]("invoice.send", tasks.WithQueue("billing"))
	sent := make(chan string, 3)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, send, func(_ context.Context, t *tasks.Task[Invoice]) error {
		sent <- t.Payload.Customer
		return nil
	})
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet), consumer.WithConcurrency(1))
	p, _ := producer.New(js, producer.WithLogger(quiet))
	in, _ := inspect.New(js, inspect.WithLogger(quiet))
	if err := p.Provision(ctx); err != nil {
		log.Fatal(err)
	}
	wctx, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() { stopWorker(); <-done }()
	// A queue no worker has served yet is refused: wait for the worker.
	for {
		err := in.Pause(ctx, inspect.Scope{Queue: "billing"}, time.Time{})
		if err == nil {
			break
		}
		if !errors.Is(err, inspect.ErrNotFound) {
			log.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	for _, who := range []string{"ada", "bob", "cy"} {
		if _, err := producer.Enqueue(ctx, p, send, Invoice{Customer: who}); err != nil {
			log.Fatal(err)
		}
	}
	// The server counts stored tasks into a consumer's pending a moment
	// after it acknowledges them: read the row once it has.
	var row inspect.QueueStats
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		rows, _ := in.Queues(ctx)
		if row = rows[0]; row.Pending == 3 || time.Now().After(deadline) {
			break
		}
	}
	fmt.Printf("%s: %d pending, paused %v\n", row.Queue, row.Pending, row.Paused)

	if err := in.Resume(ctx, inspect.Scope{Queue: "billing"}); err != nil {
		log.Fatal(err)
	}
	for range 3 {
		fmt.Println("sent to", <-sent)
	}
	// Output:
	// billing: 3 pending, paused true
	// sent to ada
	// sent to bob
	// sent to cy
}
