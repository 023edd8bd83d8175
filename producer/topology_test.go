package producer_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// TestOneTopologyForEveryComponent lets a worker provision first with the
// deployment's topology, a bounded queue: a producer given the same value
// finds the streams as it asked and its fourth task refused as the queue is
// full; a producer that asks for other limits is told, with both values.
func TestOneTopologyForEveryComponent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	topo := topology.Topology{Prefix: "shop", MaxTasks: 3, Memory: true}
	def := tasks.Define[Email]("email.later")
	// A worker of another task type: it provisions, and takes none of def's tasks.
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, tasks.Define[Email]("email.other"), func(context.Context, *tasks.Task[Email]) error { return nil })
	w, err := consumer.New(js, reg, consumer.WithTopology(topo))
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	t.Cleanup(func() { stop(); <-done })
	testkit.WaitFor(t, 10*time.Second, func() error { _, err := js.Stream(ctx, "SHOP_EVENTS"); return err })

	var logs bytes.Buffer
	p, err := producer.New(js, producer.WithTopology(topo), producer.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := producer.Enqueue(ctx, p, def, Email{To: "a@b.c", Subject: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := producer.Enqueue(ctx, p, def, Email{To: "a@b.c"}); !errors.Is(err, producer.ErrQueueFull) {
		t.Errorf("fourth enqueue: %v, want ErrQueueFull from the worker's bounded queue", err)
	}
	if strings.Contains(logs.String(), "differs") {
		t.Errorf("a producer with the same topology was warned: %s", logs.String())
	}

	logs.Reset()
	other := topo
	other.MaxTasks = 10
	q, err := producer.New(js, producer.WithTopology(other), producer.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); !strings.Contains(got, "max_msgs=3 (want 10)") {
		t.Errorf("a producer asking for other limits was not told both values: %s", got)
	}
}
