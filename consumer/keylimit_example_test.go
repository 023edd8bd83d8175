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

// A concurrency per key runs at most one import per tenant at once, across
// every worker, while a worker of four slots serves several tenants side
// by side: the tenant's other imports wait without spending an attempt.
func Example_keyConcurrency() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)

	imports := tasks.Define[string]("tenant.import", tasks.WithKeyConcurrency(1))
	var (
		mu             sync.Mutex
		running, most  = map[string]int{}, map[string]int{}
		ran, attempts  = map[string]int{}, map[string]int{}
		all            sync.WaitGroup
		tenants        = []string{"acme", "acme", "acme", "globex", "globex"}
		tenantsInOrder = []string{"acme", "globex"}
	)
	all.Add(len(tenants))
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, imports, func(ctx context.Context, t *tasks.Task[string]) error {
		tenant := tasks.KeyOf(t.Header)
		mu.Lock()
		running[tenant]++
		most[tenant] = max(most[tenant], running[tenant])
		mu.Unlock()
		time.Sleep(20 * time.Millisecond) // the import
		mu.Lock()
		running[tenant]--
		ran[tenant]++
		attempts[tenant] = max(attempts[tenant], t.Attempt)
		mu.Unlock()
		all.Done()
		return nil
	})

	p, _ := producer.New(js, producer.WithLogger(quiet))
	for i, tenant := range tenants {
		file := fmt.Sprintf("%s-%d.csv", tenant, i)
		if _, err := producer.Enqueue(ctx, p, imports, file, producer.WithKey(tenant)); err != nil {
			panic(err)
		}
	}
	w, _ := consumer.New(js, reg, consumer.WithConcurrency(4), consumer.WithLogger(quiet))
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- w.Run(runCtx) }()
	all.Wait()
	stop()
	<-stopped

	for _, tenant := range tenantsInOrder {
		fmt.Printf("%s: %d imports, at most %d at once, every one its first attempt: %v\n",
			tenant, ran[tenant], most[tenant], attempts[tenant] == 1)
	}
	// Output:
	// acme: 3 imports, at most 1 at once, every one its first attempt: true
	// globex: 2 imports, at most 1 at once, every one its first attempt: true
}
