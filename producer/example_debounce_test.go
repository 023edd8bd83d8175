package producer_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Five edits of one document in a burst reindex it once, with the last
// revision, a second after the last edit.
func ExampleWithDebounce() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)

	reindex := tasks.Define[int]("search.reindex")
	ran := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, reindex, func(ctx context.Context, t *tasks.Task[int]) error {
		fmt.Printf("%s: reindexed revision %d\n", t.ID, t.Payload)
		close(ran)
		return nil
	})

	p, _ := producer.New(js, producer.WithLogger(quiet))
	for rev := 1; rev <= 5; rev++ {
		r, err := producer.Enqueue(ctx, p, reindex, rev, producer.WithDebounce("doc-7", time.Second))
		if err != nil {
			panic(err)
		}
		fmt.Printf("revision %d: %s debounced=%v\n", rev, r.ID, r.Debounced)
	}
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet))
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- w.Run(runCtx) }()
	<-ran
	stop()
	<-stopped

	// Output:
	// revision 1: debounce:default.search.reindex:doc-7 debounced=false
	// revision 2: debounce:default.search.reindex:doc-7 debounced=true
	// revision 3: debounce:default.search.reindex:doc-7 debounced=true
	// revision 4: debounce:default.search.reindex:doc-7 debounced=true
	// revision 5: debounce:default.search.reindex:doc-7 debounced=true
	// debounce:default.search.reindex:doc-7: reindexed revision 5
}
