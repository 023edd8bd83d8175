package consumer_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/baseline"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

var benchTask = tasks.Define[baseline.Payload]("bench.process")

// BenchmarkProcess drains b.N no-op tasks, enqueued beforehand (untimed),
// through one worker at concurrency 16 on the in-process connection: jetq's
// worker, and the hand-written baseline (raw) on the same durable consumer
// settings, draining messages its own code published (one header,
// Nats-Msg-Id) or carrying jetq's headers (the cost of the wire format
// alone). Each side's timing includes creating its consumer. ns/op is per
// task; allocs/op is per task, client and server together.
//
//	go test -run '^$' -bench Process -benchmem -benchtime 100000x ./consumer/
func BenchmarkProcess(b *testing.B) {
	const concurrency = 16
	for _, jetqHeaders := range []bool{false, true} {
		name := "raw"
		if jetqHeaders {
			name = "raw-with-jetq-headers"
		}
		b.Run(name, func(b *testing.B) {
			js := benchQueue(b, func(pjs jetstream.JetStream, payloads []baseline.Payload) error {
				return baseline.PublishAsync(pjs, benchSubject, payloads, jetqHeaders, benchTask.Spec())
			})
			var handled atomic.Int64
			done := make(chan struct{})
			b.ReportAllocs()
			b.ResetTimer()
			cfg := wire.ConsumerConfig(topology.Topology{Memory: true}, benchTask.Spec())
			cfg.PriorityPolicy, cfg.PriorityGroups = jetstream.PriorityPolicyNone, nil // raw JetStream
			cons, err := js.CreateOrUpdateConsumer(context.Background(), "JETQ_TASKS", cfg)
			if err != nil {
				b.Fatal(err)
			}
			stop := baseline.Pull(cons, concurrency, 0, func() {
				if handled.Add(1) == int64(b.N) {
					close(done)
				}
			})
			<-done
			b.StopTimer()
			stop()
		})
	}
	b.Run("jetq", func(b *testing.B) {
		benchWorker(b, concurrency, func(reg *tasks.Registry, handled func()) {
			tasks.MustHandle(reg, benchTask, func(ctx context.Context, t *tasks.Task[baseline.Payload]) error {
				handled()
				return nil
			})
		})
	})
	// The same tasks, each returning a result kept with its final outcome:
	// one more write, to the status bucket, before each acknowledgement.
	b.Run("jetq-result", func(b *testing.B) {
		benchWorker(b, concurrency, func(reg *tasks.Registry, handled func()) {
			tasks.MustHandleResult(reg, benchResult, func(ctx context.Context, t *tasks.Task[baseline.Payload]) (int, error) {
				handled()
				return t.Payload.UserID, nil
			})
		})
	})
}

// benchResult is benchTask returning a result.
var benchResult = tasks.DefineResult[baseline.Payload, int]("bench.process")

// benchWorker drains b.N tasks of benchQueue through a worker of the
// handler register registers, which calls handled once per task.
func benchWorker(b *testing.B, concurrency int, register func(reg *tasks.Registry, handled func())) {
	js := benchQueue(b, nil)
	var n atomic.Int64
	done := make(chan struct{})
	reg := tasks.NewRegistry()
	register(reg, func() {
		if n.Add(1) == int64(b.N) {
			close(done)
		}
	})
	w, err := consumer.New(js, reg, consumer.WithConcurrency(concurrency), consumer.WithTopology(topology.Topology{Memory: true}),
		consumer.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() { stopped <- w.Run(ctx) }()
	<-done
	b.StopTimer()
	cancel()
	if err := <-stopped; err != nil {
		b.Fatal(err)
	}
}

const benchSubject = "jetq.task.default.bench.process"

// benchQueue starts an in-process server with jetq's streams in memory and
// b.N tasks of benchTask waiting, published by publish (by jetq's
// EnqueueBatch when nil), and returns a second connection to it.
func benchQueue(b *testing.B, publish func(jetstream.JetStream, []baseline.Payload) error) jetstream.JetStream {
	b.Helper()
	srv := embeddedtest.Server(b)
	_, pjs := embeddedtest.Connect(b, srv)
	p, err := producer.New(pjs, producer.WithTopology(topology.Topology{Memory: true}), producer.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Provision(context.Background()); err != nil {
		b.Fatal(err)
	}
	if publish == nil {
		publish = func(_ jetstream.JetStream, payloads []baseline.Payload) error {
			_, err := producer.EnqueueBatch(context.Background(), p, benchTask, payloads)
			return err
		}
	}
	payloads := baseline.Payloads(min(b.N, 10_000))
	for n := 0; n < b.N; n += len(payloads) {
		if err := publish(pjs, payloads[:min(len(payloads), b.N-n)]); err != nil {
			b.Fatal(err)
		}
	}
	_, js := embeddedtest.Connect(b, srv)
	return js
}

// BenchmarkPickupManyTypes runs one worker of concurrency 16 serving 1 000
// task types, and enqueues a steady trickle of them (b.N tasks in all, one
// every 2 ms, each of the next type in turn, so every type gets one task
// every 2 s): it reports the pickup, from enqueue to the handler's start,
// at the median, p99 and max, in milliseconds.
//
//	go test -run '^$' -bench PickupManyTypes -benchtime 5000x ./consumer/
func BenchmarkPickupManyTypes(b *testing.B) {
	const types, every = 1000, 2 * time.Millisecond
	srv := embeddedtest.Server(b)
	_, pjs := embeddedtest.Connect(b, srv)
	_, js := embeddedtest.Connect(b, srv)
	quiet := slog.New(slog.DiscardHandler)
	p, err := producer.New(pjs, producer.WithTopology(topology.Topology{Memory: true}), producer.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	pickups := make([]time.Duration, 0, b.N)
	done := make(chan struct{})
	reg := tasks.NewRegistry()
	defs := make([]*tasks.Definition[int], types)
	for i := range defs {
		defs[i] = tasks.Define[int](fmt.Sprintf("pickup.t%04d", i))
		tasks.MustHandle(reg, defs[i], func(_ context.Context, t *tasks.Task[int]) error {
			mu.Lock()
			defer mu.Unlock()
			if pickups = append(pickups, time.Since(t.EnqueuedAt)); len(pickups) == b.N {
				close(done)
			}
			return nil
		})
	}
	w, err := consumer.New(js, reg, consumer.WithConcurrency(16), consumer.WithTopology(topology.Topology{Memory: true}), consumer.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(ctx) }()
	// Every type's consumer exists before the trickle starts.
	for {
		s, err := pjs.Stream(ctx, "JETQ_TASKS")
		if err == nil && s.CachedInfo().State.Consumers == types {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling the server for the setup, untimed
	}
	b.ResetTimer()
	tick := time.NewTicker(every)
	for i := range b.N {
		<-tick.C
		if _, err := producer.Enqueue(ctx, p, defs[i%types], i); err != nil {
			b.Fatal(err)
		}
	}
	tick.Stop()
	<-done
	b.StopTimer()
	cancel()
	if err := <-stopped; err != nil {
		b.Fatal(err)
	}
	slices.Sort(pickups)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(pickups[len(pickups)/2]), "p50-ms")
	b.ReportMetric(ms(pickups[len(pickups)*99/100]), "p99-ms")
	b.ReportMetric(ms(pickups[len(pickups)-1]), "max-ms")
}
