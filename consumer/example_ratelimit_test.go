package consumer_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// A definition limits how many of its tasks start per interval across
// every worker, and how many per key (a tenant, a customer): tasks over a
// limit wait, without spending an attempt, until an interval grants them
// a start.
func Example_rateLimit() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)

	// At most 20 syncs a second in all, and 2 every 100 ms per account.
	crmSync := tasks.Define[int]("crm.sync",
		tasks.WithRateLimit(20, time.Second), tasks.WithKeyRateLimit(2, 100*time.Millisecond))
	var mu sync.Mutex
	started := map[string]int{}
	all := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, crmSync, func(ctx context.Context, t *tasks.Task[int]) error {
		mu.Lock()
		defer mu.Unlock()
		started[tasks.KeyOf(t.Header)]++
		if t.Attempt != 1 {
			fmt.Println("an attempt was spent waiting")
		}
		if started["acme"]+started["globex"] == 12 {
			close(all)
		}
		return nil
	})

	p, _ := producer.New(js, producer.WithLogger(quiet))
	for i := range 6 {
		for _, account := range []string{"acme", "globex"} {
			if _, err := producer.Enqueue(ctx, p, crmSync, i, producer.WithKey(account)); err != nil {
				panic(err)
			}
		}
	}
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet))
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- w.Run(runCtx) }()
	<-all
	stop()
	<-stopped

	// Six tasks an account, two per 100 ms window: three windows at least.
	fmt.Println("acme:", started["acme"], "globex:", started["globex"])
	// Output:
	// acme: 6 globex: 6
}
