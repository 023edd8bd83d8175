package inspect_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Invoice is the payload of the examples' tasks.
type Invoice struct {
	Customer string `json:"customer"`
	Cents    int    `json:"cents"`
}

// example starts an embedded server with five invoices waiting, two of
// them for ada, and returns an Inspector of it.
func example(ctx context.Context) (*inspect.Inspector, func()) {
	quiet := slog.New(slog.DiscardHandler)
	srv, err := embedded.Start(ctx)
	if err != nil {
		panic(err)
	}
	nc, _ := srv.Connect()
	js, _ := jetstream.New(nc)
	send := tasks.Define[Invoice]("invoice.send")
	p, _ := producer.New(js, producer.WithLogger(quiet))
	for i, who := range []string{"ada", "bob", "ada", "cy", "dee"} {
		inv := Invoice{Customer: who, Cents: 100 * (i + 1)}
		if _, err := producer.Enqueue(ctx, p, send, inv, producer.WithID(fmt.Sprintf("inv-%d", i+1))); err != nil {
			panic(err)
		}
	}
	in, _ := inspect.New(js, inspect.WithLogger(quiet))
	return in, func() { nc.Close(); srv.Shutdown() }
}

// Pending tasks are listed a page at a time, in the order workers get
// them, filtered by a payload field.
func ExampleInspector_Tasks() {
	ctx := context.Background()
	in, stop := example(ctx)
	defer stop()

	q := inspect.Query{State: inspect.Pending, Task: "invoice.send", Limit: 2}
	for {
		page, err := in.Tasks(ctx, q)
		if err != nil {
			panic(err)
		}
		for _, t := range page.Tasks {
			fmt.Printf("#%d %s %s\n", t.Position, t.ID, t.Payload)
		}
		if page.Next == "" {
			break
		}
		q.Token = page.Next
	}

	where, _ := inspect.ParseMatch("customer=ada")
	page, _ := in.Tasks(ctx, inspect.Query{State: inspect.Pending, Where: where})
	fmt.Printf("ada's: %d of %d scanned\n", len(page.Tasks), page.Scanned)

	// Output:
	// #1 inv-1 {"customer":"ada","cents":100}
	// #2 inv-2 {"customer":"bob","cents":200}
	// #3 inv-3 {"customer":"ada","cents":300}
	// #4 inv-4 {"customer":"cy","cents":400}
	// #5 inv-5 {"customer":"dee","cents":500}
	// ada's: 2 of 5 scanned
}

// A bulk delete counts what it would delete first; applied after a
// confirmation, it deletes those tasks and no other.
func ExampleInspector_PlanBulk() {
	ctx := context.Background()
	in, stop := example(ctx)
	defer stop()

	where, _ := inspect.ParseMatch("customer=ada")
	b, err := in.PlanBulk(ctx, inspect.ActionDelete, inspect.Query{Task: "invoice.send", Where: where})
	if err != nil {
		panic(err)
	}
	fmt.Printf("delete %d pending tasks?\n", b.Count)

	res, err := in.ApplyBulk(ctx, b) // b.Token may travel to another request first
	if err != nil {
		panic(err)
	}
	fmt.Printf("deleted %d, %d had moved on\n", res.Done, res.MovedOn)
	page, _ := in.Tasks(ctx, inspect.Query{State: inspect.Pending})
	for _, t := range page.Tasks {
		fmt.Println("left:", t.ID)
	}

	// Output:
	// delete 2 pending tasks?
	// deleted 2, 0 had moved on
	// left: inv-2
	// left: inv-4
	// left: inv-5
}
