package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/workflow"
)

// The chain's steps: each returns the name of the file it made.
var (
	Fetch   = tasks.DefineResult[string, string]("image.fetch")
	Resize  = tasks.DefineResult[int, string]("image.resize")
	Publish = tasks.DefineResult[string, string]("image.publish")
)

// The chord: quotes from four carriers, then the cheapest.
var (
	Quote    = tasks.DefineResult[string, int]("shipping.quote", tasks.WithBackoff(tasks.Backoff{Initial: 50 * time.Millisecond}))
	Cheapest = tasks.Define[[]string]("shipping.cheapest")
)

// The DAG: a word, two steps that change it, one that joins both.
var (
	Word  = tasks.DefineResult[string, string]("text.word")
	Upper = tasks.DefineResult[string, string]("text.upper")
	Join  = tasks.Define[string]("text.join")
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "workflow example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	srv, err := embedded.Start(ctx)
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	done := make(chan string, 3) // each workflow's last step reports here
	reg := tasks.NewRegistry()
	register(reg, done)
	w, err := consumer.New(js, reg, consumer.WithLogger(quiet), consumer.WithConcurrency(8))
	if err != nil {
		return err
	}
	go func() { _ = w.Run(ctx) }()
	defer w.Shutdown(context.Background())
	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		return err
	}

	// The worker above creates its consumers as it starts; Force starts
	// the workflows without waiting for them (their first steps wait in
	// the queue meanwhile).
	chain := workflow.Chain("thumbnail",
		workflow.Task("fetch", Fetch, "https://example.com/cat.jpg"),
		workflow.Task("resize", Resize, 128),
		workflow.Task("publish", Publish, "cdn"),
	).With(workflow.Force())
	var quotes []workflow.Step
	for _, carrier := range []string{"dhl", "ups", "fedex", "post"} {
		quotes = append(quotes, workflow.Task(carrier, Quote, carrier))
	}
	chord := workflow.Chord("shipping", quotes,
		workflow.Task("cheapest", Cheapest, []string{"dhl", "ups", "fedex", "post"})).With(workflow.Force())
	dag := workflow.New("shout", workflow.Force()).Add(
		workflow.Task("word", Word, "hello"),
		workflow.Task("upper", Upper, "upper").After("word"),
		workflow.Task("twice", Upper, "twice").After("word"),
		workflow.Task("join", Join, " and ").After("upper", "twice"),
	)
	for i, wf := range []*workflow.Workflow{chain, chord, dag} {
		fmt.Printf("%d. %s\n", i+1, []string{"a chain", "a chord", "a DAG of four steps"}[i])
		if _, err := workflow.Start(ctx, p, wf); err != nil {
			return err
		}
		select {
		case line := <-done:
			fmt.Println("  " + line)
		case <-ctx.Done():
			return fmt.Errorf("workflow %d did not finish: %w", i+1, ctx.Err())
		}
	}
	return nil
}

func register(reg *tasks.Registry, done chan<- string) {
	tasks.MustHandleResult(reg, Fetch, func(ctx context.Context, t *tasks.Task[string]) (string, error) {
		fmt.Printf("   fetch %s\n", t.Payload)
		return "cat.jpg", nil
	})
	tasks.MustHandleResult(reg, Resize, func(ctx context.Context, t *tasks.Task[int]) (string, error) {
		file, err := workflow.Input[string](ctx)
		if err != nil {
			return "", tasks.Permanent(err)
		}
		out := fmt.Sprintf("cat-%d.jpg", t.Payload)
		fmt.Printf("   resize %s to %dpx: %s\n", file, t.Payload, out)
		return out, nil
	})
	tasks.MustHandleResult(reg, Publish, func(ctx context.Context, t *tasks.Task[string]) (string, error) {
		file, err := workflow.Input[string](ctx)
		if err != nil {
			return "", tasks.Permanent(err)
		}
		url := "https://" + t.Payload + ".example.com/" + file
		done <- "chain done: published " + url
		return url, nil
	})

	var upsDown atomic.Bool
	upsDown.Store(true)
	prices := map[string]int{"dhl": 1290, "ups": 1150, "fedex": 1420, "post": 990}
	tasks.MustHandleResult(reg, Quote, func(ctx context.Context, t *tasks.Task[string]) (int, error) {
		if t.Payload == "ups" && upsDown.CompareAndSwap(true, false) {
			fmt.Println("   ups: timeout, will retry")
			return 0, errors.New("ups: quote API timed out")
		}
		return prices[t.Payload], nil
	})
	tasks.MustHandle(reg, Cheapest, func(ctx context.Context, t *tasks.Task[[]string]) error {
		cents, err := workflow.Results[int](ctx) // in member order
		if err != nil {
			return tasks.Permanent(err)
		}
		best := 0
		for i := range cents {
			if cents[i] < cents[best] {
				best = i
			}
		}
		done <- fmt.Sprintf("chord done: quotes %v, cheapest %s at %d.%02d", cents, t.Payload[best], cents[best]/100, cents[best]%100)
		return nil
	})

	tasks.MustHandleResult(reg, Word, func(ctx context.Context, t *tasks.Task[string]) (string, error) {
		return t.Payload, nil
	})
	tasks.MustHandleResult(reg, Upper, func(ctx context.Context, t *tasks.Task[string]) (string, error) {
		word, err := workflow.Input[string](ctx)
		if err != nil {
			return "", tasks.Permanent(err)
		}
		if t.Payload == "twice" {
			return word + " " + word, nil
		}
		return strings.ToUpper(word), nil
	})
	tasks.MustHandle(reg, Join, func(ctx context.Context, t *tasks.Task[string]) error {
		upper, err := workflow.ParentResult[string](ctx, "upper")
		if err != nil {
			return tasks.Permanent(err)
		}
		twice, err := workflow.ParentResult[string](ctx, "twice")
		if err != nil {
			return tasks.Permanent(err)
		}
		done <- "DAG done: " + upper + t.Payload + twice
		return nil
	})
}
