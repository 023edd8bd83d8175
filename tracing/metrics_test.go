package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jetq/jetq/internal/testkit"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// point is one data point of a metric, reduced to what the test checks.
type point struct {
	attrs attribute.Set
	value float64 // sum, or histogram count
}

// points returns the data points of the metric called name.
func points(rm metricdata.ResourceMetrics, name string) []point {
	var out []point
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out = append(out, point{p.Attributes, float64(p.Value)})
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, point{p.Attributes, float64(p.Count)})
				}
			}
		}
	}
	return out
}

// total adds up the points of name whose attributes include every one of match.
func total(rm metricdata.ResourceMetrics, name string, match ...attribute.KeyValue) float64 {
	var sum float64
next:
	for _, p := range points(rm, name) {
		for _, kv := range match {
			if v, ok := p.attrs.Value(kv.Key); !ok || v != kv.Value {
				continue next
			}
		}
		sum += p.value
	}
	return sum
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("metrics.task", tasks.WithMaxAttempts(3), fast)
	reg := tasks.NewRegistry()
	// N=1 succeeds, N=2 fails once, N=3 is permanently bad.
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		switch {
		case tk.Payload.N == 2 && tk.Attempt == 1:
			return errors.New("flaky")
		case tk.Payload.N == 3:
			return tasks.Permanent(errors.New("bad"))
		}
		return nil
	})
	b.startWorker(t, reg)
	if _, err := producer.EnqueueBatch(context.Background(), b.p, def, []Args{{1}, {2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := producer.Enqueue(context.Background(), b.p, def, Args{N: 3}); err != nil {
		t.Fatal(err)
	}

	task := attribute.String("jetq.task.name", "metrics.task")
	var rm metricdata.ResourceMetrics
	testkit.WaitFor(t, 30*time.Second, func() error {
		rm = b.collect(t)
		if got := total(rm, "messaging.process.duration", task); got != 4 {
			return fmt.Errorf("processed deliveries: got %v, want 4", got)
		}
		return nil
	})
	for _, tc := range []struct {
		metric string
		match  []attribute.KeyValue
		want   float64
	}{
		{"messaging.client.sent.messages", []attribute.KeyValue{
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.name", "send"),
			attribute.String("messaging.destination.name", "jetq.task.default.metrics.task"),
			task, attribute.String("jetq.task.queue", "default")}, 3},
		{"messaging.client.consumed.messages", []attribute.KeyValue{
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.consumer.group.name", "default:metrics:task"),
			task}, 4},
		{"messaging.process.duration", []attribute.KeyValue{task, attribute.String("jetq.outcome", "ack")}, 2},
		{"messaging.process.duration", []attribute.KeyValue{task, attribute.String("jetq.outcome", "retry"),
			attribute.String("error.type", "*errors.errorString")}, 1},
		{"messaging.process.duration", []attribute.KeyValue{task, attribute.String("jetq.outcome", "dead_letter"),
			attribute.String("error.type", "permanent")}, 1},
		{"jetq.task.dead_lettered", []attribute.KeyValue{task, attribute.String("jetq.dead_letter.reason", "permanent")}, 1},
		{"jetq.task.dead_lettered", []attribute.KeyValue{task}, 1},
		{"jetq.task.active", []attribute.KeyValue{task}, 0},
		{"jetq.task.wait.duration", []attribute.KeyValue{task, attribute.Bool("jetq.task.retry", false)}, 3},
		{"jetq.task.wait.duration", []attribute.KeyValue{task, attribute.Bool("jetq.task.retry", true)}, 1},
	} {
		if got := total(rm, tc.metric, tc.match...); got != tc.want {
			t.Errorf("%s %v: got %v, want %v", tc.metric, tc.match, got, tc.want)
		}
	}
	if len(points(rm, "jetq.task.active")) == 0 {
		t.Error("jetq.task.active not recorded")
	}
	// Nothing high-cardinality in metric attributes.
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, p := range points(rm, m.Name) {
				for _, k := range []attribute.Key{"messaging.message.id", "messaging.nats.stream.sequence", "jetq.task.attempt"} {
					if p.attrs.HasValue(k) {
						t.Errorf("%s has attribute %s", m.Name, k)
					}
				}
			}
		}
	}
}
