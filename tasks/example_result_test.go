package tasks_test

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

// ResizeArgs is the payload of the result example's task.
type ResizeArgs struct {
	URL   string `json:"url"`
	Width int    `json:"width"`
}

// Thumbnail is what the result example's handler returns.
type Thumbnail struct {
	URL   string `json:"url"`
	Bytes int    `json:"bytes"`
}

// Resize returns a Thumbnail, kept for an hour after the task settles.
var Resize = tasks.DefineResult[ResizeArgs, Thumbnail]("image.resize",
	tasks.WithRetention(time.Hour))

// A task that returns a value: the handler returns it next to its error,
// the worker stores it with the task's final outcome, and any process
// reads it with inspect.Result.
func ExampleDefineResult() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, err := embedded.Start(ctx)
	if err != nil {
		panic(err)
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)

	reg := tasks.NewRegistry()
	tasks.MustHandleResult(reg, Resize, func(ctx context.Context, t *tasks.Task[ResizeArgs]) (Thumbnail, error) {
		return Thumbnail{URL: fmt.Sprintf("%s?w=%d", t.Payload.URL, t.Payload.Width), Bytes: 4096}, nil
	})
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet))
	go func() { _ = w.Run(ctx) }()
	defer func() { _ = w.Shutdown(ctx) }()

	p, _ := producer.New(js, producer.WithLogger(quiet))
	r, err := producer.Enqueue(ctx, p, Resize, ResizeArgs{URL: "https://example.com/cat.png", Width: 200})
	if err != nil {
		panic(err)
	}
	in, _ := inspect.New(js, inspect.WithLogger(quiet))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	thumb, err := inspect.Result(wctx, in, Resize, r.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(thumb.URL, thumb.Bytes)
	fmt.Println(Resize.Spec().ResultType, Resize.Spec().Retention)
	// Output:
	// https://example.com/cat.png?w=200 4096
	// github.com/jetq/jetq/tasks_test.Thumbnail 1h0m0s
}
