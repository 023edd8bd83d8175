package dashboard_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// Sizes of the pages benchmark: the dashboard must answer in under a
// second with this many task types and dead-letter records, next to
// delayed tasks and live workers.
const (
	benchTypes   = 200
	benchRecords = 100_000
	benchDelayed = 10_000
	benchWorkers = 3
)

// BenchmarkPages times the dashboard's pages with 200 task types, each
// with its durable consumer and a few pending tasks, 100 000 dead-letter
// records spread over them, 10 000 delayed tasks and 3 live workers:
//
//	go test -run '^$' -bench Pages -benchtime 20x ./dashboard/
func BenchmarkPages(b *testing.B) {
	ctx := context.Background()
	js := embeddedtest.JetStream(b)
	known := fill(b, ctx, js)
	for _, bc := range []struct{ name, path string }{
		{"overview", "/"},
		{"api-overview", "/api/overview"},
		{"dlq-newest", "/dlq"},
		{"dlq-page-500", fmt.Sprintf("/dlq?after=%d", benchRecords-500*50)},
		{"dlq-task", "/dlq?task=default/bench.t042"},
		{"dlq-reason", "/dlq?reason=timeout"},
		{"dlq-rare-reason", "/dlq?reason=permanent"},
		{"dlq-record", "/dlq/77777"},
		{"task-known", "/tasks?id=" + known},
		{"task-unknown", "/tasks?id=nope"},
		{"workers", "/workers"},
		{"scheduled", "/scheduled"},
		{"tasks-pending", "/tasks/pending"},
		{"tasks-pending-where", "/tasks/pending?where=nope%3D1"},
		{"tasks-scheduled", "/tasks/scheduled"},
		{"tasks-scheduled-task", "/tasks/scheduled?task=bench.t007"},
		{"tasks-running", "/tasks/running"},
		{"tasks-retrying", "/tasks/retrying"},
		{"tasks-completed", "/tasks/completed"},
		{"tasks-failed", "/tasks/failed"},
		{"tasks-failed-task", "/tasks/failed?task=bench.t042"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				// A dashboard of its own each time: nothing cached.
				d, err := dashboard.New(js, dashboard.WithActions(token), dashboard.WithLogger(quiet()))
				if err != nil {
					b.Fatal(err)
				}
				rec := httptest.NewRecorder()
				d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, bc.path, nil))
				if rec.Code != http.StatusOK && rec.Code != http.StatusNotFound {
					b.Fatalf("%s: %d %s", bc.path, rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
		})
	}
}

// fill makes the task types' consumers with a worker, leaves three tasks
// pending for each, files the dead-letter records, one reason in ten a
// timeout, enqueues the delayed tasks, and starts the workers. It returns
// the ID of a delayed task.
func fill(b *testing.B, ctx context.Context, js jetstream.JetStream) string {
	start := time.Now()
	reg := tasks.NewRegistry()
	defs := make([]*tasks.Definition[int], benchTypes)
	for i := range defs {
		defs[i] = tasks.Define[int](fmt.Sprintf("bench.t%03d", i))
		tasks.MustHandle(reg, defs[i], func(context.Context, *tasks.Task[int]) error { return nil })
	}
	w, err := consumer.New(js, reg, consumer.WithLogger(quiet()))
	if err != nil {
		b.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	testkit.WaitFor(b, 60*time.Second, func() error { // polling the server for the setup, untimed
		s, err := js.Stream(ctx, "JETQ_TASKS")
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Consumers < benchTypes {
			return fmt.Errorf("%d durables of %d", info.State.Consumers, benchTypes)
		}
		return nil
	})
	stop()
	<-done
	names := wire.NamesOf(topology.Topology{})
	for i, def := range defs {
		for range 3 {
			if _, err := js.PublishAsync(names.TaskSubject(def.Spec().Queue, def.Spec().Name), []byte(fmt.Sprint(i))); err != nil {
				b.Fatal(err)
			}
		}
	}
	now := time.Now()
	for i := range benchRecords {
		spec := defs[i%benchTypes].Spec()
		reason := tasks.ReasonMaxAttempts
		if i%10 == 0 {
			reason = tasks.ReasonTimeout
		}
		h := nats.Header{wire.HeaderTask: {spec.Name}, wire.HeaderQueue: {spec.Queue}}
		f := wire.Failure{Reason: reason, Error: "upstream: connection refused", Stream: "JETQ_TASKS", Seq: uint64(i + 1),
			Subject: names.TaskSubject(spec.Queue, spec.Name), StoredAt: now, Deliveries: 25, At: now}
		rec := wire.DeadLetter(names, spec.Queue, spec.Name, h, []byte(`{"invoice":12345,"to":"ada@example.com"}`), f, wire.Limits{})
		if _, err := js.PublishMsgAsync(rec); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("records not stored within a minute")
	}
	p, err := producer.New(js, producer.WithLogger(quiet()))
	if err != nil {
		b.Fatal(err)
	}
	res, err := producer.EnqueueBatch(ctx, p, defs[7], make([]int, benchDelayed), producer.WithDelay(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	for range benchWorkers {
		w, err := consumer.New(js, reg, consumer.WithLogger(quiet()), consumer.WithPresenceInterval(time.Second))
		if err != nil {
			b.Fatal(err)
		}
		wctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.Run(wctx) }()
		b.Cleanup(func() { stop(); <-done })
	}
	b.Logf("%d task types, %d pending tasks, %d dead-letter records, %d delayed tasks made in %v",
		benchTypes, 3*benchTypes, benchRecords, benchDelayed, time.Since(start).Round(time.Millisecond))
	return res[0].ID
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }
