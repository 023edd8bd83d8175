package inspect_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// BenchmarkPendingPage reads pages of the pending list of a work stream of
// JETQ_BENCH_PENDING tasks (default 100 000) across 20 task types, each
// type with its durable consumer and 100 tasks in flight, on an embedded
// server with file storage. It reports the requests a page makes
// (reqs/op, the messages the client published) beside the time.
//
// Figures (2 vCPU shared with other work, JETQ_BENCH_PENDING=1000000,
// go test -run - -bench BenchmarkPendingPage -benchtime 30x ./inspect/):
// see the doc of [inspect.Inspector.Tasks].
func BenchmarkPendingPage(b *testing.B) {
	n := 100_000
	if s := os.Getenv("JETQ_BENCH_PENDING"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	const types = 20
	ctx := context.Background()
	srv := embeddedtest.Server(b)
	nc, js := embeddedtest.Connect(b, srv)
	topo := topology.Topology{}
	names := wire.NamesOf(topo)
	if _, err := js.CreateStream(ctx, wire.WorkStreamConfig(topo)); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	var middle time.Time
	for i := range n {
		if i%2000 == 0 {
			<-js.PublishAsyncComplete()
		}
		if i == n/2 {
			middle = time.Now()
		}
		m := &nats.Msg{
			Subject: names.TaskSubject("default", fmt.Sprintf("bench.t%02d", i%types)),
			Header:  nats.Header{wire.HeaderMsgID: {fmt.Sprintf("task-%d", i)}},
			Data:    fmt.Appendf(nil, `{"customer":{"id":%d},"n":%d}`, i%1000, i),
		}
		if _, err := js.PublishMsgAsync(m); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		b.Fatal("publishing did not complete")
	}
	b.Logf("published %d tasks in %v", n, time.Since(start).Round(time.Millisecond))
	for i := range types {
		cfg := wire.ConsumerConfig(topo, tasks.Define[Order](fmt.Sprintf("bench.t%02d", i)).Spec())
		cfg.PriorityPolicy, cfg.PriorityGroups = jetstream.PriorityPolicyNone, nil
		c, err := js.CreateOrUpdateConsumer(ctx, names.WorkStream(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		batch, err := c.Fetch(100, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		for range batch.Messages() {
		}
	}
	in, err := inspect.New(js)
	if err != nil {
		b.Fatal(err)
	}
	// deep is the token of a page half way down the list.
	p, err := in.Tasks(ctx, inspect.Query{State: inspect.Pending, Since: middle})
	if err != nil {
		b.Fatal(err)
	}
	deep := p.Next
	pDeep, err := in.Tasks(ctx, inspect.Query{State: inspect.Pending, Task: "bench.t07", Since: middle})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		q    inspect.Query
	}{
		{"all types/first", inspect.Query{State: inspect.Pending}},
		{"all types/middle", inspect.Query{State: inspect.Pending, Since: middle, Token: deep}},
		{"one type/first", inspect.Query{State: inspect.Pending, Queue: "default", Task: "bench.t07"}},
		{"one type in any queue/middle", inspect.Query{State: inspect.Pending, Task: "bench.t07", Since: middle, Token: pDeep.Next}},
		{"where/scan 10000", inspect.Query{State: inspect.Pending, Where: &inspect.Match{Path: "customer.id", Value: "-1"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			before := nc.Stats().OutMsgs
			var p inspect.Page
			for b.Loop() {
				var err error
				if p, err = in.Tasks(ctx, bc.q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(nc.Stats().OutMsgs-before)/float64(b.N), "reqs/op")
			b.ReportMetric(float64(p.Scanned), "scanned/op")
			if len(p.Tasks) != inspect.DefaultLimit && bc.q.Where == nil {
				b.Fatalf("got %d tasks; want a full page", len(p.Tasks))
			}
		})
	}
}
