package producer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

var notifyAccounting = tasks.Define[string]("accounting.notify")

// A group enqueues tasks of several types all or nothing: here an invoice
// and its notification, which a full queue refuses together. Enqueued
// again with the same IDs, the group is stored once.
func ExampleEnqueueGroup() {
	ctx := context.Background()
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)
	p, _ := producer.New(js, producer.WithLogger(slog.New(slog.DiscardHandler)), producer.WithTopology(topology.Topology{MaxTasks: 3}))

	g := producer.NewGroup()
	producer.Add(g, sendInvoice, Invoice{Number: 1001}, producer.WithID("invoice:1001"))
	producer.Add(g, notifyAccounting, "invoice 1001 sent", producer.WithID("notify:1001"))
	for range 2 {
		results, err := producer.EnqueueGroup(ctx, p, g)
		if err != nil {
			panic(err)
		}
		for _, r := range results {
			fmt.Printf("%s: seq=%d duplicate=%v\n", r.ID, r.Sequence, r.Duplicate)
		}
	}

	// Room for one more task, not two: nothing is stored.
	g = producer.NewGroup()
	producer.Add(g, sendInvoice, Invoice{Number: 1002})
	producer.Add(g, notifyAccounting, "invoice 1002 sent")
	_, err := producer.EnqueueGroup(ctx, p, g)
	fmt.Println(errors.Is(err, producer.ErrQueueFull), err)
	// Output:
	// invoice:1001: seq=1 duplicate=false
	// notify:1001: seq=2 duplicate=false
	// invoice:1001: seq=1 duplicate=true
	// notify:1001: seq=2 duplicate=true
	// true producer: group of 2 tasks not enqueued, none stored: producer: queue is full: stream JETQ_TASKS: maximum messages exceeded
}
