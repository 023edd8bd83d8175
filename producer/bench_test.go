package producer_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/baseline"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

var benchTask = tasks.Define[baseline.Payload]("bench.enqueue")

const benchSubject = "jetq.task.default.bench.enqueue"

// benchProducer starts an in-process server with jetq's streams in memory.
func benchProducer(b *testing.B) (*producer.Producer, jetstream.JetStream) {
	b.Helper()
	_, js := embeddedtest.Connect(b, embeddedtest.Server(b))
	p, err := producer.New(js, producer.WithTopology(topology.Topology{Memory: true}), producer.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Provision(context.Background()); err != nil {
		b.Fatal(err)
	}
	return p, js
}

// purge empties the work stream, untimed, so that a long run does not fill
// memory.
func purge(b *testing.B, js jetstream.JetStream) {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	s, err := js.Stream(context.Background(), "JETQ_TASKS")
	if err == nil {
		err = s.Purge(context.Background())
	}
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEnqueueBatch publishes b.N tasks in batches of 4 000 over the
// in-process connection: jetq's EnqueueBatch, and the hand-written baseline
// (raw: JSON, a Nats-Msg-Id, PublishMsgAsync, every ack awaited). The
// raw-with-jetq-headers case is the baseline carrying jetq's headers
// instead of one: the cost of the wire format alone. Compare ns/op;
// allocs/op is per task, client and server together.
//
//	go test -run '^$' -bench EnqueueBatch -benchmem ./producer/
func BenchmarkEnqueueBatch(b *testing.B) {
	payloads := baseline.Payloads(baseline.Round)
	for _, jetqHeaders := range []bool{false, true} {
		name := "raw"
		if jetqHeaders {
			name = "raw-with-jetq-headers"
		}
		b.Run(name, func(b *testing.B) {
			_, js := benchProducer(b)
			b.ReportAllocs()
			for done := 0; done < b.N; done += len(payloads) {
				if err := baseline.PublishAsync(js, benchSubject, payloads[:min(len(payloads), b.N-done)], jetqHeaders, benchTask.Spec()); err != nil {
					b.Fatal(err)
				}
				purge(b, js)
			}
		})
	}
	b.Run("jetq", func(b *testing.B) {
		p, js := benchProducer(b)
		ctx := context.Background()
		b.ReportAllocs()
		for done := 0; done < b.N; done += len(payloads) {
			if _, err := producer.EnqueueBatch(ctx, p, benchTask, payloads[:min(len(payloads), b.N-done)]); err != nil {
				b.Fatal(err)
			}
			purge(b, js)
		}
	})
}

// BenchmarkEnqueue publishes b.N tasks one synchronous call at a time from 8
// goroutines: jetq's Enqueue, and the baseline's JSON with a Nats-Msg-Id
// through nats.go's PublishMsg, which waits for the ack.
//
//	go test -run '^$' -bench 'Enqueue$' -benchmem ./producer/
func BenchmarkEnqueue(b *testing.B) {
	run := func(b *testing.B, publish func(i int) error) {
		var next atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := publish(int(next.Add(1))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	ctx := context.Background()
	b.Run("raw", func(b *testing.B) {
		_, js := benchProducer(b)
		run(b, func(i int) error { return baseline.Publish(ctx, js, benchSubject, baseline.NewPayload(i)) })
	})
	b.Run("raw-with-jetq-headers", func(b *testing.B) {
		_, js := benchProducer(b)
		run(b, func(i int) error {
			m, err := baseline.Msg(benchSubject, baseline.NewPayload(i), true, benchTask.Spec())
			if err != nil {
				return err
			}
			_, err = js.PublishMsg(ctx, m)
			return err
		})
	})
	b.Run("jetq", func(b *testing.B) {
		p, _ := benchProducer(b)
		run(b, func(i int) error {
			_, err := producer.Enqueue(ctx, p, benchTask, baseline.NewPayload(i))
			return err
		})
	})
}

// BenchmarkEnqueueGroup compares the throughput of a group (atomic batches
// of 1 000, chunked) with EnqueueBatch's asynchronous publishes of the same
// tasks, on one in-process server, the work stream in memory and on file
// (R1 on file: the server keeps each open atomic batch in a file store of
// its own until the commit). ns/op is per task; tasks/s is reported too.
func BenchmarkEnqueueGroup(b *testing.B) {
	payloads := baseline.Payloads(baseline.Round)
	for _, memory := range []bool{true, false} {
		storage := "file"
		if memory {
			storage = "memory"
		}
		for _, size := range []int{100, 1000, 4000} {
			setup := func(b *testing.B) (*producer.Producer, jetstream.JetStream) {
				_, js := embeddedtest.Connect(b, embeddedtest.Server(b))
				p, err := producer.New(js, producer.WithTopology(topology.Topology{Memory: memory}), producer.WithLogger(slog.New(slog.DiscardHandler)))
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Provision(context.Background()); err != nil {
					b.Fatal(err)
				}
				return p, js
			}
			ctx := context.Background()
			b.Run(fmt.Sprintf("%s/batch-%d", storage, size), func(b *testing.B) {
				p, js := setup(b)
				b.ReportAllocs()
				for done := 0; done < b.N; done += size {
					if _, err := producer.EnqueueBatch(ctx, p, benchTask, payloads[:min(size, b.N-done)]); err != nil {
						b.Fatal(err)
					}
					if done%(4*baseline.Round) == 0 {
						purge(b, js)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
			})
			b.Run(fmt.Sprintf("%s/group-%d", storage, size), func(b *testing.B) {
				p, js := setup(b)
				b.ReportAllocs()
				for done := 0; done < b.N; done += size {
					b.StopTimer()
					g := producer.NewGroup()
					for _, v := range payloads[:min(size, b.N-done)] {
						producer.Add(g, benchTask, v)
					}
					b.StartTimer()
					if _, err := producer.EnqueueGroup(ctx, p, g); err != nil {
						b.Fatal(err)
					}
					if done%(4*baseline.Round) == 0 {
						purge(b, js)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
			})
		}
	}
}
