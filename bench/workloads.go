package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/internal/baseline"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// Payload is the task both sides carry: about 200 bytes of JSON.
type Payload = baseline.Payload

func payload(i int) Payload { return baseline.NewPayload(i) }

var quiet = slog.New(slog.DiscardHandler)

// noop is the benchmark task; both sides use its subject and consumer settings.
var noop = tasks.Define[Payload]("bench.noop")

// topo is the shape of the streams on both sides: jetq's own, in memory, so
// that the disk does not hide what the framework costs.
var topo = topology.Topology{Memory: true}

type connKind int

const (
	inProcess connKind = iota
	loopbackTCP
)

func (c connKind) String() string {
	if c == inProcess {
		return "in-process"
	}
	return "loopback TCP"
}

// env is a fresh server and connection for one run.
type env struct {
	srv *embedded.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func newEnv(ctx context.Context, conn connKind) (*env, error) {
	var opts []embedded.Option
	if conn == loopbackTCP {
		opts = append(opts, embedded.WithListen("127.0.0.1:0"))
	}
	srv, err := embedded.Start(ctx, opts...)
	if err != nil {
		return nil, err
	}
	nc, err := srv.Connect()
	if err != nil {
		srv.Shutdown()
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		srv.Shutdown()
		return nil, err
	}
	return &env{srv: srv, nc: nc, js: js}, nil
}

func (e *env) close() {
	e.nc.Close()
	e.srv.Shutdown()
}

// each runs fn for both sides, alternating which goes first. Every run
// starts on a collected heap, so that neither side pays for the garbage of
// the run before it (a whole server's store of tasks).
func each(runs int, fn func(jetqSide bool) error) error {
	for i := range runs {
		order := []bool{false, true}
		if i%2 == 1 {
			order = []bool{true, false}
		}
		for _, side := range order {
			runtime.GC()
			if err := fn(side); err != nil {
				return err
			}
		}
	}
	return nil
}

// measureBatch enqueues o.n tasks (o.nSync with a handler that works) as one
// batch, then processes them at the given concurrency.
func measureBatch(ctx context.Context, o options, conn connKind, concurrency int, work time.Duration) (enq, e2e, flowing, cpu row, err error) {
	n := o.n
	label := fmt.Sprintf("(a) end to end, no-op, concurrency %d", concurrency)
	if work > 0 {
		n = o.nSync
		label = fmt.Sprintf("(c) end to end, %v handler, concurrency %d", work, concurrency)
	}
	enq = row{workload: "(a) EnqueueBatch vs PublishAsync", conn: conn.String(), unit: "tasks/s", higherIsBetter: true}
	e2e = row{workload: label, conn: conn.String(), unit: "tasks/s", higherIsBetter: true}
	flowing = row{workload: label + ", pauses left out", conn: conn.String(), unit: "tasks/s", higherIsBetter: true,
		note: "each run's time less its pauses"}
	cpu = row{workload: label + ", CPU per task", conn: conn.String(), unit: "µs", note: "client and server"}
	payloads := make([]Payload, n)
	for i := range payloads {
		payloads[i] = payload(i)
	}
	err = each(o.runs, func(jetqSide bool) error {
		e, err := newEnv(ctx, conn)
		if err != nil {
			return err
		}
		defer e.close()
		var res batchResult
		if jetqSide {
			res, err = jetqBatch(ctx, e, payloads, concurrency, work, nil, nil)
		} else {
			res, err = rawBatch(ctx, e, payloads, concurrency, work)
		}
		if err != nil {
			return err
		}
		enq.add(jetqSide, res.enq)
		e2e.add(jetqSide, res.e2e)
		e2e.addPauses(jetqSide, res.progress)
		flowing.add(jetqSide, res.flowing(len(payloads)))
		cpu.add(jetqSide, res.cpu.Seconds()*1e6/float64(len(payloads)))
		return nil
	})
	return enq, e2e, flowing, cpu, err
}

// batchResult is one run of a batch workload.
type batchResult struct {
	enq, e2e float64       // tasks/s
	elapsed  time.Duration // from consumer creation to the last task
	cpu      time.Duration // the process's CPU time meanwhile
	progress *progress
}

// finish records the end of the run's processing, begun at start with the
// process's CPU time at cpu0, of n tasks.
func (r *batchResult) finish(n int, start time.Time, cpu0 time.Duration) {
	r.elapsed, r.cpu = time.Since(start), cpuTime()-cpu0
	r.e2e = float64(n) / r.elapsed.Seconds()
}

// flowing is the run's rate of n tasks with its pauses left out: what the
// code costs while nats.go keeps pulling (see "The pull nats.go forgets" in
// README.md), the same measure for both sides whichever stalled.
func (r *batchResult) flowing(n int) float64 {
	return float64(n) / (r.elapsed - time.Duration(r.progress.paused.Load())).Seconds()
}

// pauseMin is the shortest gap between two handled tasks that counts as a
// pause: a consumer that has stopped pulling, not a slow task.
const pauseMin = 100 * time.Millisecond

// progress counts handled tasks, and the pauses between them.
type progress struct {
	target int64
	done   chan struct{} // closed when target tasks were handled
	count  atomic.Int64
	last   atomic.Int64 // when the latest task was handled, Unix nanoseconds
	pauses atomic.Int64
	paused atomic.Int64 // nanoseconds
}

func newProgress(n int) *progress { return &progress{target: int64(n), done: make(chan struct{})} }

// handled records one handled task.
func (p *progress) handled() {
	now := time.Now().UnixNano()
	if prev := p.last.Swap(now); prev != 0 && now-prev >= int64(pauseMin) {
		p.pauses.Add(1)
		p.paused.Add(now - prev)
	}
	if p.count.Add(1) == p.target {
		close(p.done)
	}
}

func jetqBatch(ctx context.Context, e *env, payloads []Payload, concurrency int, work time.Duration,
	pmw []tasks.EnqueueMiddleware, cmw []tasks.Middleware) (res batchResult, err error) {
	register := func(reg *tasks.Registry, handled func()) error {
		return tasks.Handle(reg, noop, func(ctx context.Context, t *tasks.Task[Payload]) error {
			if work > 0 {
				time.Sleep(work)
			}
			handled()
			return nil
		})
	}
	return jetqRun(ctx, e, len(payloads), len(payloads), concurrency, pmw, cmw, enqueueAll(noop, payloads), register)
}

// enqueueAll enqueues payloads as tasks of def in one EnqueueBatch.
func enqueueAll(def tasks.Def[Payload], payloads []Payload) func(context.Context, *producer.Producer) error {
	return func(ctx context.Context, p *producer.Producer) error {
		_, err := producer.EnqueueBatch(ctx, p, def, payloads)
		return err
	}
}

// jetqRun is one run of a jetq side: enqueue stores n tasks, then a worker
// of concurrency runs them with the handlers register makes, which call
// handled done times in all.
func jetqRun(ctx context.Context, e *env, n, done, concurrency int, pmw []tasks.EnqueueMiddleware, cmw []tasks.Middleware,
	enqueue func(context.Context, *producer.Producer) error, register func(reg *tasks.Registry, handled func()) error) (res batchResult, err error) {
	p, err := producer.New(e.js, producer.WithTopology(topology.Topology{Memory: true}), producer.WithLogger(quiet), producer.WithMiddleware(pmw...))
	if err != nil {
		return res, err
	}
	if err := p.Provision(ctx); err != nil {
		return res, err
	}
	start := time.Now()
	if err := enqueue(ctx, p); err != nil {
		return res, err
	}
	res.enq = float64(n) / time.Since(start).Seconds()

	runtime.GC() // the processing starts clean too: not paying for the enqueue's garbage
	res.progress = newProgress(done)
	reg := tasks.NewRegistry()
	if err := register(reg, res.progress.handled); err != nil {
		return res, err
	}
	w, err := consumer.New(e.js, reg, consumer.WithConcurrency(concurrency), consumer.WithTopology(topology.Topology{Memory: true}),
		consumer.WithLogger(quiet), consumer.WithMiddleware(cmw...))
	if err != nil {
		return res, err
	}
	wctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	start, cpu0 := time.Now(), cpuTime()
	go func() { stopped <- w.Run(wctx) }()
	select {
	case <-res.progress.done:
	case <-time.After(5 * time.Minute):
		cancel()
		return res, fmt.Errorf("jetq processed %d of %d", res.progress.count.Load(), done)
	}
	res.finish(n, start, cpu0)
	cancel()
	return res, <-stopped
}

// rawBatch is what a hand-rolled JetStream producer and consumer do
// (internal/baseline): JSON, Nats-Msg-Id, PublishMsgAsync in a sliding
// window with every ack awaited, then overlapping Fetches sized to free room
// feeding fixed runners (jetstream-notes §1.10), which decode and ack.
func rawBatch(ctx context.Context, e *env, payloads []Payload, concurrency int, work time.Duration) (batchResult, error) {
	return rawBatchHeaders(ctx, e, payloads, concurrency, work, false)
}

// rawBatchHeaders is rawBatch; with jetqHeaders every message carries the
// headers of jetq's wire format instead of Nats-Msg-Id alone.
func rawBatchHeaders(ctx context.Context, e *env, payloads []Payload, concurrency int, work time.Duration, jetqHeaders bool) (res batchResult, err error) {
	if _, err := e.js.CreateStream(ctx, wire.WorkStreamConfig(topo)); err != nil {
		return res, err
	}
	start := time.Now()
	if err := baseline.PublishAsync(e.js, wire.NamesOf(topo).TaskSubject("default", noop.Name()), payloads, jetqHeaders, noop.Spec()); err != nil {
		return res, err
	}
	res.enq = float64(len(payloads)) / time.Since(start).Seconds()

	runtime.GC() // the processing starts clean too: not paying for the enqueue's garbage
	res.progress = newProgress(len(payloads))
	// Timed from before the consumer is created, as the jetq side's time
	// includes its worker creating its own.
	start, cpu0 := time.Now(), cpuTime()
	cons, err := e.js.CreateOrUpdateConsumer(ctx, wire.NamesOf(topo).WorkStream(), rawConsumer(noop.Spec()))
	if err != nil {
		return res, err
	}
	defer baseline.Pull(cons, concurrency, work, res.progress.handled)()
	select {
	case <-res.progress.done:
	case <-time.After(5 * time.Minute):
		return res, fmt.Errorf("raw processed %d of %d", res.progress.count.Load(), len(payloads))
	}
	res.finish(len(payloads), start, cpu0)
	return res, nil
}

// measureSingle enqueues o.nSync tasks one call at a time from goroutines
// callers, against raw synchronous publishes with a message ID.
func measureSingle(ctx context.Context, o options, conn connKind, goroutines int) (row, error) {
	r := row{workload: fmt.Sprintf("(b) Enqueue vs sync publish, %d goroutines", goroutines), conn: conn.String(), unit: "tasks/s", higherIsBetter: true}
	err := each(o.runs, func(jetqSide bool) error {
		e, err := newEnv(ctx, conn)
		if err != nil {
			return err
		}
		defer e.close()
		var publish func(i int) error
		if jetqSide {
			p, err := producer.New(e.js, producer.WithTopology(topology.Topology{Memory: true}), producer.WithLogger(quiet))
			if err != nil {
				return err
			}
			if err := p.Provision(ctx); err != nil {
				return err
			}
			publish = func(i int) error {
				_, err := producer.Enqueue(ctx, p, noop, payload(i))
				return err
			}
		} else {
			if _, err := e.js.CreateStream(ctx, wire.WorkStreamConfig(topo)); err != nil {
				return err
			}
			subject := wire.NamesOf(topo).TaskSubject("default", noop.Name())
			publish = func(i int) error { return baseline.Publish(ctx, e.js, subject, payload(i)) }
		}
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		start := time.Now()
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < o.nSync; i += goroutines {
					if err := publish(i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		rate := float64(o.nSync) / time.Since(start).Seconds()
		select {
		case err := <-errs:
			return err
		default:
		}
		r.add(jetqSide, rate)
		return nil
	})
	return r, err
}

// measureLatency enqueues one task a millisecond for o.latency and records
// how long each waited from enqueue to the start of its handler.
func measureLatency(ctx context.Context, o options) ([]row, error) {
	rows := []row{
		{workload: "(d) enqueue to start, p50, 1 000 tasks/s", conn: inProcess.String(), unit: "ms"},
		{workload: "(d) enqueue to start, p99, 1 000 tasks/s", conn: inProcess.String(), unit: "ms"},
		{workload: "(d) enqueue to start, max, 1 000 tasks/s", conn: inProcess.String(), unit: "ms"},
	}
	err := each(max(o.runs/2, 1), func(jetqSide bool) error {
		e, err := newEnv(ctx, inProcess)
		if err != nil {
			return err
		}
		defer e.close()
		var mu sync.Mutex
		var waits []time.Duration
		record := func(d time.Duration) {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
		}
		var publish func(i int) error
		var stop func()
		if jetqSide {
			p, err := producer.New(e.js, producer.WithTopology(topology.Topology{Memory: true}), producer.WithLogger(quiet))
			if err != nil {
				return err
			}
			if err := p.Provision(ctx); err != nil {
				return err
			}
			reg := tasks.NewRegistry()
			tasks.MustHandle(reg, noop, func(ctx context.Context, t *tasks.Task[Payload]) error {
				record(time.Since(t.EnqueuedAt))
				return nil
			})
			w, err := consumer.New(e.js, reg, consumer.WithConcurrency(16), consumer.WithTopology(topology.Topology{Memory: true}), consumer.WithLogger(quiet))
			if err != nil {
				return err
			}
			wctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { _ = w.Run(wctx); close(done) }()
			stop = func() { cancel(); <-done }
			publish = func(i int) error {
				_, err := producer.Enqueue(ctx, p, noop, payload(i))
				return err
			}
		} else {
			if _, err := e.js.CreateStream(ctx, wire.WorkStreamConfig(topo)); err != nil {
				return err
			}
			cons, err := e.js.CreateOrUpdateConsumer(ctx, wire.NamesOf(topo).WorkStream(), rawConsumer(noop.Spec()))
			if err != nil {
				return err
			}
			sem := make(chan struct{}, 16)
			cc, err := cons.Consume(func(m jetstream.Msg) {
				sem <- struct{}{}
				go func() {
					defer func() { <-sem }()
					sent, _ := time.Parse(time.RFC3339Nano, m.Headers().Get("Sent-At"))
					record(time.Since(sent))
					var p Payload
					_ = json.Unmarshal(m.Data(), &p)
					_ = m.Ack()
				}()
			}, jetstream.PullMaxMessages(16))
			if err != nil {
				return err
			}
			stop = cc.Stop
			subject := wire.NamesOf(topo).TaskSubject("default", noop.Name())
			publish = func(i int) error {
				data, err := json.Marshal(payload(i))
				if err != nil {
					return err
				}
				h := nats.Header{"Nats-Msg-Id": {nuid.Next()}, "Sent-At": {time.Now().UTC().Format(time.RFC3339Nano)}}
				_, err = e.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: data, Header: h})
				return err
			}
		}
		defer stop()
		// Let the consumer settle before measuring.
		time.Sleep(200 * time.Millisecond)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		total := int(o.latency / time.Millisecond)
		for i := range total {
			<-tick.C
			if err := publish(i); err != nil {
				return err
			}
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			got := len(waits)
			mu.Unlock()
			if got >= total {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("latency run: %d of %d tasks started", got, total)
			}
		}
		mu.Lock()
		slices.Sort(waits)
		p50, p99, mx := waits[len(waits)/2], waits[len(waits)*99/100], waits[len(waits)-1]
		mu.Unlock()
		for i, d := range []time.Duration{p50, p99, mx} {
			ms := float64(d) / float64(time.Millisecond)
			rows[i].add(jetqSide, ms)
		}
		return nil
	})
	return rows, err
}

// measureHeaders compares the raw baseline with the raw baseline carrying
// jetq's headers: how much of jetq's cost is its wire format.
func measureHeaders(ctx context.Context, o options) (enq, e2e row, err error) {
	enq = row{workload: "(h) PublishAsync with jetq's headers", conn: inProcess.String(), unit: "tasks/s", note: "jetq column: the raw code with jetq's headers"}
	e2e = row{workload: "(h) raw end to end with jetq's headers", conn: inProcess.String(), unit: "tasks/s", note: "jetq column: the raw code with jetq's headers"}
	payloads := make([]Payload, o.n)
	for i := range payloads {
		payloads[i] = payload(i)
	}
	err = each(o.runs, func(headers bool) error {
		e, err := newEnv(ctx, inProcess)
		if err != nil {
			return err
		}
		defer e.close()
		res, err := rawBatchHeaders(ctx, e, payloads, 16, 0, headers)
		if err != nil {
			return err
		}
		enq.add(headers, res.enq)
		e2e.add(headers, res.e2e)
		e2e.addPauses(headers, res.progress)
		return nil
	})
	return enq, e2e, err
}

// rawConsumer is the durable the raw side consumes from: jetq's, less the
// priority group only jetq's forwarder needs.
func rawConsumer(spec tasks.Spec) jetstream.ConsumerConfig {
	cfg := wire.ConsumerConfig(topo, spec)
	cfg.PriorityPolicy, cfg.PriorityGroups = jetstream.PriorityPolicyNone, nil
	return cfg
}
