package consumer_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// A worker of one slot takes its queues strictly in order: alerts enqueued
// while a report runs start before the reports queued long before them.
// With consumer.WithQueueWeights(map[string]int{"critical": 6, "default":
// 1}) instead, the reports would keep a seventh of the starts.
func ExampleWithStrictPriority() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ins, _ := inspect.New(js)

	alert := tasks.Define[int]("alert.send", tasks.WithQueue("critical"))
	report := tasks.Define[int]("report.build") // queue "default"
	started, more := make(chan struct{}), make(chan struct{})
	done := make(chan struct{}, 5)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, alert, func(_ context.Context, t *tasks.Task[int]) error {
		fmt.Println("alert", t.Payload)
		done <- struct{}{}
		return nil
	})
	tasks.MustHandle(reg, report, func(_ context.Context, t *tasks.Task[int]) error {
		fmt.Println("report", t.Payload)
		if t.Payload == 1 {
			close(started)
			<-more // the alerts come while the first report runs
		}
		done <- struct{}{}
		return nil
	})

	p, _ := producer.New(js, producer.WithLogger(quiet))
	if _, err := producer.EnqueueBatch(ctx, p, report, []int{1, 2, 3}); err != nil {
		panic(err)
	}
	w, err := consumer.New(js, reg, consumer.WithConcurrency(1), consumer.WithLogger(quiet),
		consumer.WithQueues("critical", "default"), consumer.WithStrictPriority(),
		consumer.WithPresenceInterval(100*time.Millisecond))
	if err != nil {
		panic(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- w.Run(runCtx) }()

	<-started
	if _, err := producer.EnqueueBatch(ctx, p, alert, []int{1, 2}); err != nil {
		panic(err)
	}
	// The first alert reaches the worker while its one slot is busy. The
	// worker's presence entry says so once the worker has taken it in; the
	// alert consumer's NumAckPending counts it as soon as the server sends
	// it, before the worker sees it.
	for !holds(ctx, ins, "alert.send") {
		time.Sleep(10 * time.Millisecond)
	}
	close(more)
	for range 5 {
		<-done
	}
	stop()
	<-stopped // the worker is gone before the server shuts down

	// Output:
	// report 1
	// alert 1
	// alert 2
	// report 2
	// report 3
}

// holds reports whether a live worker holds a delivery of task, as its
// presence entry lists it.
func holds(ctx context.Context, ins *inspect.Inspector, task string) bool {
	ws, _ := ins.Workers(ctx)
	for _, w := range ws {
		for _, t := range w.Tasks {
			if t.Task == task && t.InFlight > 0 {
				return true
			}
		}
	}
	return false
}
