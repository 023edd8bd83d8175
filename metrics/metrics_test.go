package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetq/jetq/metrics"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
)

// runWorkload has a traced worker process three "mail.send" tasks — one
// succeeds, one fails once, one fails for good — and returns the first
// scrape that shows all four attempts.
func runWorkload(t *testing.T, b *bundle) scrape {
	t.Helper()
	def := tasks.Define[int]("mail.send", tasks.WithMaxAttempts(3), fast)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(_ context.Context, tk *tasks.Task[int]) error {
		switch {
		case tk.Payload == 2 && tk.Attempt == 1:
			return errors.New("flaky")
		case tk.Payload == 3:
			return tasks.Permanent(errors.New("mailbox gone"))
		}
		return nil
	})
	b.startWorker(t, reg)
	if _, err := producer.EnqueueBatch(context.Background(), b.p, def, []int{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	return b.waitScrape(t, func(s scrape) error {
		if got, _ := s.value("messaging_process_duration_seconds", nil); got != 4 {
			return fmt.Errorf("attempts recorded: got %v, want 4", got)
		}
		if got, _ := s.value("jetq_task_active", nil); got != 0 {
			return fmt.Errorf("active: got %v, want 0", got)
		}
		return nil
	})
}

// TestOpenTelemetryInstruments checks that what tracing.Consumer and
// tracing.Producer record through MeterProvider is served by Handler, under
// the names the package documents, next to the queue gauges.
func TestOpenTelemetryInstruments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := runWorkload(t, b)
	task := map[string]string{"jetq_task_name": "mail.send", "jetq_task_queue": "default"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range task {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		match map[string]string
		want  float64
	}{
		{"messaging_client_sent_messages_total", with("messaging_operation_name", "send"), 3},
		{"messaging_client_consumed_messages_total", with("messaging_consumer_group_name", "default:mail:send"), 4},
		{"messaging_process_duration_seconds", with("jetq_outcome", "ack"), 2},
		{"messaging_process_duration_seconds", with("jetq_outcome", "retry", "error_type", "*errors.errorString"), 1},
		{"messaging_process_duration_seconds", with("jetq_outcome", "dead_letter", "error_type", "permanent"), 1},
		{"jetq_task_wait_duration_seconds", with("jetq_task_retry", "false"), 3},
		{"jetq_task_wait_duration_seconds", with("jetq_task_retry", "true"), 1},
		{"jetq_task_dead_lettered_total", with("jetq_dead_letter_reason", "permanent"), 1},
		{"jetq_task_active", task, 0},
		{"jetq_dlq_tasks", map[string]string{"queue": "default", "task": "mail.send"}, 1},
		{"target_info", nil, 1},
	} {
		if got, ok := s.value(tc.name, tc.match); !ok || got != tc.want {
			t.Errorf("%s %v: got %v (present %v), want %v", tc.name, tc.match, got, ok, tc.want)
		}
	}
	if _, ok := s.value("messaging_process_duration_seconds", map[string]string{"otel_scope_name": tracing.ScopeName}); !ok {
		t.Errorf("messaging_process_duration_seconds: no otel_scope_name %q", tracing.ScopeName)
	}
}

// TestRegistry serves the program's own collectors next to jetq's.
func TestRegistry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "app_signups_total", Help: "Signups."})
	if err := b.m.Registry().Register(c); err != nil {
		t.Fatal(err)
	}
	c.Add(2)
	s := b.scrape(t)
	if got, _ := s.value("app_signups_total", nil); got != 2 {
		t.Errorf("app_signups_total: got %v, want 2", got)
	}
	if got, _ := s.value("jetq_up", nil); got != 1 {
		t.Errorf("jetq_up: got %v, want 1", got)
	}
}

// TestWithoutQueueGauges serves a worker's instruments without the queue
// gauges: the scrape has the OTel counters and no jetq_queue_*, jetq_dlq_*
// or jetq_up series.
func TestWithoutQueueGauges(t *testing.T) {
	t.Parallel()
	b := setup(t, metrics.WithoutQueueGauges())
	s := runWorkload(t, b)
	for name := range s {
		if strings.HasPrefix(name, "jetq_queue_") || strings.HasPrefix(name, "jetq_dlq_") || name == "jetq_up" {
			t.Errorf("%s served without queue gauges", name)
		}
	}
	if _, ok := s["messaging_client_consumed_messages_total"]; !ok {
		t.Error("the OTel instruments are missing")
	}
	if _, err := metrics.New(nil, metrics.WithoutQueueGauges()); !errors.Is(err, metrics.ErrInvalidOption) {
		t.Errorf("nil js: %v", err)
	}
}
