package inspect_test

import (
	"context"
	"encoding/json"
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
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// benchN is the environment variable name as a number, def without it.
func benchN(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkStatePages reads the first and a later page of the running,
// retrying, completed and failed lists, on an embedded server with file
// storage holding JETQ_BENCH_PENDING pending tasks (default 100 000)
// across 20 types, 10 000 retrying (500 a type, delivered and handed back
// with an hour's delay), 400 held by a worker whose presence entry lists
// them and 256 of the retries, JETQ_BENCH_STATUS status records (default
// 20 000, half of them done) and JETQ_BENCH_DLQ dead-letter records
// (default 100 000); the retrying list also for one type alone. It reports
// the requests a page makes (reqs/op, the messages the client published)
// beside the time.
//
// Figures (JETQ_BENCH_PENDING=1000000, go test -run - -bench
// BenchmarkStatePages -benchtime 50x ./inspect/, 2 vCPU shared with other
// test runs at a load average of 20 to 30, so times are high and noisy):
// running 74–99 ms a page (55 requests: one get a task), retrying 180–650
// ms (25–35 requests, one batched direct get a type, each of which makes
// the server count the type's messages after the read; one type alone 17
// ms and 6 requests, at 300 000 pending), completed 12–113 ms (2
// requests), failed 33–37 ms (2 requests).
func BenchmarkStatePages(b *testing.B) {
	pending := benchN(b, "JETQ_BENCH_PENDING", 100_000)
	records := benchN(b, "JETQ_BENCH_STATUS", 20_000)
	dead := benchN(b, "JETQ_BENCH_DLQ", 100_000)
	const (
		types    = 20
		retrying = 500 // a type
		held     = 20  // a type
	)
	ctx := context.Background()
	srv := embeddedtest.Server(b)
	nc, js := embeddedtest.Connect(b, srv)
	topo := topology.Topology{}
	names := wire.NamesOf(topo)
	for _, cfg := range []jetstream.StreamConfig{wire.WorkStreamConfig(topo), wire.DLQStreamConfig(topo)} {
		if _, err := js.CreateStream(ctx, cfg); err != nil {
			b.Fatal(err)
		}
	}
	publish := func(n int, msg func(i int) *nats.Msg) {
		for i := range n {
			if i%2000 == 0 {
				<-js.PublishAsyncComplete()
			}
			if _, err := js.PublishMsgAsync(msg(i)); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(5 * time.Minute):
			b.Fatal("publishing did not complete")
		}
	}
	typeName := func(i int) string { return fmt.Sprintf("bench.t%02d", i%types) }
	start := time.Now()
	// First what the consumers deliver (retrying and held), then the pending.
	publish(types*(retrying+held)+pending, func(i int) *nats.Msg {
		return &nats.Msg{
			Subject: names.TaskSubject("default", typeName(i)),
			Header:  nats.Header{wire.HeaderMsgID: {fmt.Sprintf("task-%d", i)}},
			Data:    fmt.Appendf(nil, `{"customer":{"id":%d},"n":%d}`, i%1000, i),
		}
	})
	now := time.Now().UTC()
	entry := wire.Presence{ID: "bench", Host: "h", PID: 1, Started: now, Updated: now, Every: time.Hour, Concurrency: types * held}
	for t := range types {
		cfg := wire.ConsumerConfig(topo, tasks.Define[Order](typeName(t)).Spec())
		cfg.PriorityPolicy, cfg.PriorityGroups = jetstream.PriorityPolicyNone, nil
		cfg.AckWait = time.Hour
		c, err := js.CreateOrUpdateConsumer(ctx, names.WorkStream(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		pt := wire.PresenceTask{Queue: "default", Task: typeName(t), Held: held, Running: held}
		for got := 0; got < retrying+held; {
			batch, err := c.Fetch(retrying+held-got, jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				b.Fatal(err)
			}
			for m := range batch.Messages() {
				md, _ := m.Metadata()
				id := wire.TaskID(tasks.Header(m.Headers()), md.Stream, md.Sequence.Stream)
				if got < held {
					pt.Deliveries = append(pt.Deliveries, wire.PresenceDelivery{ID: id, Seq: md.Sequence.Stream, Attempt: 1, Started: now})
				} else {
					if err := m.NakWithDelay(time.Hour); err != nil {
						b.Fatal(err)
					}
					if len(pt.Retries) < wire.MaxPresenceRetries/types {
						pt.Retries = append(pt.Retries, wire.PresenceRetry{ID: id, Seq: md.Sequence.Stream, Attempt: 1, At: now.Add(time.Hour), Error: "upstream said no"})
					}
				}
				got++
			}
		}
		entry.Tasks = append(entry.Tasks, pt)
	}
	kv, err := js.CreateKeyValue(ctx, wire.WorkersBucketConfig(topo))
	if err != nil {
		b.Fatal(err)
	}
	value, _ := json.Marshal(entry)
	if _, err := kv.Put(ctx, "bench", value); err != nil {
		b.Fatal(err)
	}
	b.Logf("presence entry: %d bytes", len(value))
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: names.StatusBucket(), History: 1}); err != nil {
		b.Fatal(err)
	}
	publish(records, func(i int) *nats.Msg {
		st := status.Status{ID: fmt.Sprintf("task-%d", i), Task: typeName(i), Queue: "default", State: status.Running,
			Attempt: 1, EnqueuedAt: now, UpdatedAt: now}
		if i%2 == 0 {
			st.State = status.Done
		}
		data, _ := json.Marshal(st)
		return &nats.Msg{Subject: "$KV." + names.StatusBucket() + "." + status.Key(st.ID), Data: data}
	})
	publish(dead, func(i int) *nats.Msg {
		h := nats.Header{wire.HeaderID: {fmt.Sprintf("dead-%d", i)}}
		f := wire.Failure{Reason: tasks.ReasonMaxAttempts, Error: "upstream said no", Stream: names.WorkStream(),
			Seq: uint64(1_000_000 + i), Subject: names.TaskSubject("default", typeName(i)), StoredAt: now, Deliveries: 25, At: now}
		return wire.DeadLetter(names, "default", typeName(i), h, fmt.Appendf(nil, `{"n":%d}`, i), f, wire.Limits{})
	})
	b.Logf("stored the tasks and records in %v", time.Since(start).Round(time.Millisecond))
	in, err := inspect.New(js)
	if err != nil {
		b.Fatal(err)
	}
	for _, st := range []inspect.State{inspect.Running, inspect.Retrying, inspect.Completed, inspect.Failed} {
		first := inspect.Query{State: st}
		p, err := in.Tasks(ctx, first)
		if err != nil {
			b.Fatal(err)
		}
		for range 4 { // the fifth page
			if p, err = in.Tasks(ctx, inspect.Query{State: st, Token: p.Next}); err != nil {
				b.Fatal(err)
			}
		}
		later := inspect.Query{State: st, Token: p.Next}
		for _, bc := range []struct {
			name string
			q    inspect.Query
		}{{"first", first}, {"sixth", later}, {"one type", inspect.Query{State: st, Queue: "default", Task: typeName(7)}}} {
			if bc.name == "one type" && st != inspect.Retrying {
				continue // a type's own page is full in the retrying list only
			}
			b.Run(string(st)+"/"+bc.name, func(b *testing.B) {
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
				if len(p.Tasks) != inspect.DefaultLimit {
					b.Fatalf("got %d tasks; want a full page", len(p.Tasks))
				}
			})
		}
	}
}
