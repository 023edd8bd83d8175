package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/nats-io/nats.go/jetstream"
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
	js, stop := connect(ctx)
	send := tasks.Define[Invoice]("invoice.send")
	p, _ := producer.New(js, producer.WithLogger(quiet))
	for i, who := range []string{"ada", "bob", "ada", "cy", "dee"} {
		inv := Invoice{Customer: who, Cents: 100 * (i + 1)}
		if _, err := producer.Enqueue(ctx, p, send, inv, producer.WithID(fmt.Sprintf("inv-%d", i+1))); err != nil {
			panic(err)
		}
	}
	in, _ := inspect.New(js, inspect.WithLogger(quiet))
	return in, stop
}

// connect starts an embedded server and returns a JetStream of it, and the
// function that stops both.
func connect(ctx context.Context) (jetstream.JetStream, func()) {
	srv, err := embedded.Start(ctx)
	if err != nil {
		log.Fatal(err)
	}
	nc, err := srv.Connect()
	if err != nil {
		log.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	return js, func() { nc.Close(); srv.Shutdown() }
}

// The statistics of every task type, as `jetq queues` prints them.
func ExampleInspector_Queues() {
	ctx := context.Background()
	in, stop := example(ctx)
	defer stop()

	rows, err := in.Queues(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range rows {
		fmt.Printf("%s %s: %d pending, %d running, %d dead-lettered, %d workers\n",
			r.Queue, r.Task, r.Pending, r.Running, r.DeadLettered, r.Workers)
	}
	// Output:
	// default invoice.send: 5 pending, 0 running, 0 dead-lettered, 0 workers
}

// Find a task by its ID wherever the server holds it.
func ExampleInspector_Find() {
	ctx := context.Background()
	in, stop := example(ctx)
	defer stop()

	r, err := in.Find(ctx, "inv-3")
	if err != nil {
		log.Fatal(err)
	}
	queue, task := r.Task()
	fmt.Println(r.Found(), queue, task, r.Work.State, string(r.Work.Payload))
	r, _ = in.Find(ctx, "inv-9")
	fmt.Println(r.Found())
	// Output:
	// true default invoice.send queued {"customer":"ada","cents":300}
	// false
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

// Inspect a dead-lettered task and replay it once its cause is fixed.
func ExampleInspector_ReplayDeadLetter() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	js, stop := connect(ctx)
	defer stop()

	charge := tasks.Define[int]("payment.charge")
	fixed := make(chan struct{})
	done := make(chan string)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, charge, func(ctx context.Context, t *tasks.Task[int]) error {
		select {
		case <-fixed:
			done <- t.ID
			return nil
		default:
			return tasks.Permanent(errors.New("card expired"))
		}
	})
	w, err := consumer.New(js, reg, consumer.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = w.Run(ctx) }()
	defer w.Shutdown(ctx)
	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := producer.Enqueue(ctx, p, charge, 4200, producer.WithID("order:7")); err != nil {
		log.Fatal(err)
	}

	in, err := inspect.New(js)
	if err != nil {
		log.Fatal(err)
	}
	var entries []inspect.DeadLetter
	for len(entries) == 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond) // the worker files the record as it settles the task
		if entries, err = in.DeadLetters(ctx, inspect.DeadLetterFilter{Task: "payment.charge"}); err != nil {
			log.Fatal(err)
		}
	}
	if len(entries) == 0 {
		log.Fatal("the task was never dead-lettered")
	}
	e := entries[0]
	fmt.Printf("%s %s: %s after %d delivery (%s)\n", e.Task, e.ID, e.Reason, e.Deliveries, e.Error)

	close(fixed) // the customer updated their card
	if err := in.ReplayDeadLetter(ctx, e.Seq); err != nil {
		log.Fatal(err)
	}
	fmt.Println("charged", <-done)
	// Output:
	// payment.charge order:7: permanent after 1 delivery (permanent: card expired)
	// charged order:7
}

// Page through the newest records of one task, a page at a time.
func ExampleInspector_DeadLetters() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	js, stop := connect(ctx)
	defer stop()
	send := tasks.Define[string]("email.send")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, send, func(ctx context.Context, t *tasks.Task[string]) error {
		return tasks.Permanent(fmt.Errorf("no mailbox %s", t.Payload))
	})
	w, err := consumer.New(js, reg, consumer.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = w.Run(ctx) }()
	defer w.Shutdown(ctx)
	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	in, err := inspect.New(js)
	if err != nil {
		log.Fatal(err)
	}
	for i, to := range []string{"ada", "bob", "cy", "dee", "eve"} {
		if _, err := producer.Enqueue(ctx, p, send, to, producer.WithID("mail:"+to)); err != nil {
			log.Fatal(err)
		}
		// Filed one after the other: wait for this one's record.
		for st, _ := in.DeadLetterStats(ctx); st.Total <= i && ctx.Err() == nil; st, _ = in.DeadLetterStats(ctx) {
			time.Sleep(5 * time.Millisecond)
		}
	}

	f := inspect.DeadLetterFilter{Task: "email.send", Order: inspect.NewestFirst, Limit: 2}
	for n := 1; ; n++ {
		page, err := in.DeadLetters(ctx, f)
		if err != nil {
			log.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		fmt.Print("page ", n, ":")
		for _, e := range page {
			fmt.Print(" ", e.ID, " (", e.Error, ")")
		}
		fmt.Println()
		f.After = page[len(page)-1].Seq
	}
	// Output:
	// page 1: mail:eve (permanent: no mailbox eve) mail:dee (permanent: no mailbox dee)
	// page 2: mail:cy (permanent: no mailbox cy) mail:bob (permanent: no mailbox bob)
	// page 3: mail:ada (permanent: no mailbox ada)
}

// Delay a task, look at what waits, and cancel one before it fires.
func ExampleInspector_Cancel() {
	ctx := context.Background()
	js, stop := connect(ctx)
	defer stop()
	quiet := slog.New(slog.DiscardHandler)
	remind := tasks.Define[string]("mail.remind")
	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range []string{"remind:1", "remind:2"} {
		if _, err := producer.Enqueue(ctx, p, remind, "your trial ends tomorrow", producer.WithID(id), producer.WithDelay(time.Hour)); err != nil {
			log.Fatal(err)
		}
	}
	in, err := inspect.New(js, inspect.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	if err := in.Cancel(ctx, inspect.Ref{ID: "remind:2"}); err != nil {
		log.Fatal(err)
	}
	waiting, err := in.Tasks(ctx, inspect.Query{State: inspect.Scheduled})
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range waiting.Tasks {
		fmt.Printf("%s (%s) due in about %v\n", d.ID, d.Task, time.Until(d.RunAt).Round(time.Hour))
	}
	err = in.Cancel(ctx, inspect.Ref{ID: "remind:2"})
	fmt.Println(errors.Is(err, inspect.ErrMovedOn))
	// Output:
	// remind:1 (mail.remind) due in about 1h0m0s
	// true
}
