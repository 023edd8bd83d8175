package inspect_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/workflow"
)

// A workflow's steps and their states, then its cancellation, as `jetq
// workflow show` and `jetq workflow cancel` do. No worker serves the
// steps yet (workflow.Force starts it anyway): the first waits in its
// queue, the others for their parents.
func ExampleInspector_Workflow() {
	ctx := context.Background()
	js, stop := connect(ctx)
	defer stop()
	quiet := slog.New(slog.DiscardHandler)
	p, _ := producer.New(js, producer.WithLogger(quiet))
	in, _ := inspect.New(js, inspect.WithLogger(quiet))

	fetch := tasks.Define[string]("image.fetch")
	resize := tasks.Define[string]("image.resize")
	publish := tasks.Define[string]("image.publish")
	run, err := workflow.Start(ctx, p, workflow.New("thumbnail", workflow.WithID("thumb-42"), workflow.Force()).Add(
		workflow.Task("fetch", fetch, "cat.png"),
		workflow.Task("small", resize, "cat.png 64").After("fetch"),
		workflow.Task("large", resize, "cat.png 512").After("fetch"),
		workflow.Task("publish", publish, "cat.png").After("small", "large"),
	))
	if err != nil {
		log.Fatal(err)
	}

	w, err := in.Workflow(ctx, run.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (%s): %s\n", w.ID, w.Name, w.State)
	for _, s := range w.Steps {
		fmt.Printf("  %-7s %-13s %-7s after %v\n", s.Name, s.Task, s.State, s.Deps)
	}

	n, err := in.CancelWorkflow(ctx, run.ID)
	if err != nil {
		log.Fatal(err)
	}
	w, _ = in.Workflow(ctx, run.ID)
	fmt.Printf("cancelled %d steps: %s\n", n, w.State)
	// Output:
	// thumb-42 (thumbnail): running
	//   fetch   image.fetch   queued  after []
	//   small   image.resize  waiting after [fetch]
	//   large   image.resize  waiting after [fetch]
	//   publish image.publish waiting after [small large]
	// cancelled 4 steps: cancelled
}
