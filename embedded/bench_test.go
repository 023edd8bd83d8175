package embedded_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded"
)

// BenchmarkSync measures, for each fsync policy of a single file-store
// server and for a three-node cluster with replicas 3, how fast it takes
// tasks in (one publish at a time, each waiting for its
// acknowledgement, as a producer does) and drains them (fetch in batches of
// 100, ack each, as a worker does). It prints figures for the README's
// durability table and asserts nothing about them:
//
//	go test -run '^$' -bench Sync -benchtime 5000x ./embedded/
func BenchmarkSync(b *testing.B) {
	single := func(opt embedded.Option) func(b *testing.B) (*nats.Conn, int) {
		return func(b *testing.B) (*nats.Conn, int) {
			srv, err := embedded.Start(b.Context(), embedded.WithStoreDir(b.TempDir()), opt)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(srv.Shutdown)
			nc, err := srv.Connect()
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(nc.Close)
			return nc, 1
		}
	}
	for _, tc := range []struct {
		name  string
		start func(b *testing.B) (*nats.Conn, int) // a connection, and the replicas to use
	}{
		{"interval=2m", single(embedded.WithSyncInterval(2 * time.Minute))}, // nats-server's default
		{"interval=1s", single(embedded.WithSyncInterval(time.Second))},     // embedded's default
		{"always", single(embedded.WithSyncAlways())},
		{"R3,interval=1s", func(b *testing.B) (*nats.Conn, int) { // three in-process nodes
			cl, err := embedded.StartCluster(b.Context(), 3, embedded.WithStoreDir(b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(cl.Shutdown)
			nc, err := cl.Connect()
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(nc.Close)
			return nc, 3
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			nc, replicas := tc.start(b)
			js, _ := jetstream.New(nc)
			ctx := context.Background()
			stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"}, Storage: jetstream.FileStorage, Replicas: replicas})
			if err != nil {
				b.Fatal(err)
			}
			cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: -1, Replicas: replicas})
			if err != nil {
				b.Fatal(err)
			}
			payload := []byte(`{"to":"ada@example.com","subject":"hello"}`)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if _, err := js.Publish(ctx, "bench.task", payload); err != nil {
					b.Fatalf("publish %d: %v", i, err)
				}
			}
			enqueue := time.Since(start)
			start = time.Now()
			for done := 0; done < b.N; {
				batch, err := cons.Fetch(min(100, b.N-done), jetstream.FetchMaxWait(5*time.Second))
				if err != nil {
					b.Fatal(err)
				}
				for m := range batch.Messages() {
					if err := m.Ack(); err != nil {
						b.Fatal(err)
					}
					done++
				}
				if err := batch.Error(); err != nil {
					b.Fatal(err)
				}
			}
			if err := nc.Flush(); err != nil {
				b.Fatal(err)
			}
			// Acks are asynchronous: the drain ends once the server has them all.
			for {
				info, err := cons.Info(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if info.NumAckPending == 0 && info.NumPending == 0 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			drain := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/enqueue.Seconds(), "enqueued/s")
			b.ReportMetric(float64(b.N)/drain.Seconds(), "drained/s")
			if b.N < 100 {
				return // the runner's probe run
			}
			fmt.Printf("%-12s %6d tasks: enqueue %8.0f/s, drain %8.0f/s\n", tc.name, b.N, float64(b.N)/enqueue.Seconds(), float64(b.N)/drain.Seconds())
		})
	}
}
