package schedule_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/tasks"
)

// connect starts an embedded server for an example.
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

// Declare a periodic task from two instances of a service: it is stored
// once and fires once per tick, with an ID naming the tick.
func ExampleDeclare() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, stop := connect(ctx)
	defer stop()
	quiet := slog.New(slog.DiscardHandler)
	rollup := tasks.Define[string]("metrics.rollup")
	ticks := make(chan string, 4)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, rollup, func(ctx context.Context, t *tasks.Task[string]) error {
		ticks <- t.ID
		return nil
	})
	w, err := consumer.New(js, reg, consumer.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = w.Run(ctx) }()
	defer w.Shutdown(ctx) //nolint:errcheck

	every := schedule.Periodic{Name: "rollup", Schedule: "@every 1s"}
	var s *schedule.Schedules
	for range 2 { // two instances, each declaring at start-up
		if s, err = schedule.New(js, schedule.WithLogger(quiet)); err != nil {
			log.Fatal(err)
		}
		if err := schedule.Declare(ctx, s, rollup, every, "totals"); err != nil {
			log.Fatal(err)
		}
	}
	in, err := inspect.New(js, inspect.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	declared, err := in.PeriodicTasks(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(declared), declared[0].Name, declared[0].Schedule)
	id := <-ticks
	tick, err := time.Parse(time.RFC3339, id[len("rollup@"):])
	fmt.Println(err == nil && id == schedule.ID("rollup", tick))
	if err := in.RemovePeriodic(ctx, "rollup"); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 1 rollup @every 1s
	// true
}
