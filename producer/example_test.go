package producer_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

type Invoice struct {
	Number int `json:"number"`
}

var sendInvoice = tasks.Define[Invoice]("invoice.send")

// Enqueueing with a caller-chosen ID is idempotent: the second enqueue of
// the same ID is dropped by the server and reported as a duplicate.
func ExampleEnqueue() {
	ctx := context.Background()
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)
	p, _ := producer.New(js, producer.WithLogger(slog.New(slog.DiscardHandler)))

	for range 2 {
		r, err := producer.Enqueue(ctx, p, sendInvoice, Invoice{Number: 1001}, producer.WithID("invoice:1001"))
		if err != nil {
			panic(err)
		}
		fmt.Printf("id=%s seq=%d duplicate=%v\n", r.ID, r.Sequence, r.Duplicate)
	}
	// Output:
	// id=invoice:1001 seq=1 duplicate=false
	// id=invoice:1001 seq=1 duplicate=true
}

// EnqueueBatch publishes asynchronously and reports every task's result.
func ExampleEnqueueBatch() {
	ctx := context.Background()
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)
	p, _ := producer.New(js, producer.WithLogger(slog.New(slog.DiscardHandler)), producer.WithTopology(topology.Topology{MaxTasks: 2}))

	results, err := producer.EnqueueBatch(ctx, p, sendInvoice, []Invoice{{1}, {2}, {3}})
	for i, r := range results {
		fmt.Printf("invoice %d: seq=%d err=%v\n", i+1, r.Sequence, r.Err)
	}
	fmt.Println(err)
	// Output:
	// invoice 1: seq=1 err=<nil>
	// invoice 2: seq=2 err=<nil>
	// invoice 3: seq=0 err=producer: queue is full: stream JETQ_TASKS: maximum messages exceeded
	// producer: 1 of 3 tasks not enqueued: producer: queue is full: stream JETQ_TASKS: maximum messages exceeded
}

// OnSuccess enqueues a callback once the task succeeds, before the worker
// acknowledges it. sendInvoice returns no result, so its callback takes
// struct{} and reads the task's ID from tasks.HeaderParent; a task of a
// tasks.ResultDefinition passes its result as the callback's payload.
func ExampleOnSuccess() {
	ctx := context.Background()
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)
	quiet := slog.New(slog.DiscardHandler)

	invoiceSent := tasks.Define[struct{}]("invoice.sent")
	done := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, sendInvoice, func(ctx context.Context, t *tasks.Task[Invoice]) error {
		fmt.Printf("sending invoice %d\n", t.Payload.Number)
		return nil
	})
	tasks.MustHandle(reg, invoiceSent, func(ctx context.Context, t *tasks.Task[struct{}]) error {
		fmt.Printf("callback: task %s succeeded\n", t.Header.Get(tasks.HeaderParent))
		close(done)
		return nil
	})
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet))
	wctx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- w.Run(wctx) }()

	p, _ := producer.New(js, producer.WithLogger(quiet))
	_, err := producer.Enqueue(ctx, p, sendInvoice, Invoice{Number: 1002},
		producer.WithID("invoice:1002"), producer.OnSuccess(invoiceSent))
	if err != nil {
		panic(err)
	}
	<-done
	stop()
	<-stopped
	// Output:
	// sending invoice 1002
	// callback: task invoice:1002 succeeded
}
