package inspect_test

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

// A worker writes what it did to the server once a step (a minute by
// default, a second here); History reads the last hour back, for the
// deployment and per task type, whoever asks and whenever.
func ExampleInspector_History() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)

	thumb := tasks.Define[string]("image.thumb")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, thumb, func(context.Context, *tasks.Task[string]) error { return nil })
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet), consumer.WithHistoryInterval(time.Second))
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- w.Run(runCtx) }()
	defer func() { stop(); <-stopped }()

	p, _ := producer.New(js, producer.WithLogger(quiet))
	for _, name := range []string{"a.png", "b.png", "c.png"} {
		if _, err := producer.Enqueue(ctx, p, thumb, name); err != nil {
			panic(err)
		}
	}

	in, _ := inspect.New(js)
	// The tasks show up in the history once the worker's step has ended.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); <-tick.C {
		h, err := in.History(ctx, inspect.HistoryQuery{Window: 10 * time.Minute})
		if err != nil {
			panic(err)
		}
		for _, th := range h.Types {
			var succeeded uint64
			for _, pt := range th.Points {
				succeeded += pt.Succeeded
			}
			if succeeded == 3 {
				fmt.Printf("%s: %d started, %d succeeded, 99%% waited under a minute: %v\n",
					th.Task, th.Started, succeeded, th.WaitP99 > 0 && th.WaitP99 < time.Minute)
				return
			}
		}
	}
	fmt.Println("no history")

	// Output:
	// image.thumb: 3 started, 3 succeeded, 99% waited under a minute: true
}
