package metrics_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/metrics"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
)

// A worker process serves /metrics: the queue gauges, read from the server
// on each scrape, next to the counters and histograms its tracing
// middleware records through the same Metrics.
func Example() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)

	m, err := metrics.New(js)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	web := httptest.NewServer(mux) // a real worker: go http.ListenAndServe(":9090", mux)
	defer web.Close()

	send := tasks.Define[string]("email.send")
	render := tasks.Define[string]("report.render") // no worker serves it here
	done := make(chan struct{}, 3)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, send, func(context.Context, *tasks.Task[string]) error {
		done <- struct{}{}
		return nil
	})
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet),
		consumer.WithMiddleware(tracing.Consumer(tracing.WithMeterProvider(m.MeterProvider()))))
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- w.Run(runCtx) }()

	p, _ := producer.New(js, producer.WithLogger(quiet))
	defer p.Close()
	for _, to := range []string{"ann@example.com", "bob@example.com", "cy@example.com"} {
		_, _ = producer.Enqueue(ctx, p, send, to)
	}
	for _, month := range []string{"2026-01", "2026-02"} {
		_, _ = producer.Enqueue(ctx, p, render, month)
	}
	for range 3 {
		<-done
	}
	stop() // Run returns once every attempt is recorded
	<-stopped

	resp, err := http.Get(web.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, _ := parser.TextToMetricFamilies(resp.Body)
	show := func(name string, labels ...string) {
		for _, s := range families[name].GetMetric() {
			name := name
			var kv []string
			for _, lp := range s.GetLabel() {
				for _, l := range labels {
					if lp.GetName() == l {
						kv = append(kv, fmt.Sprintf("%s=%q", l, lp.GetValue()))
					}
				}
			}
			v := s.GetGauge().GetValue() + float64(s.GetHistogram().GetSampleCount())
			if len(kv) > 0 {
				name += "{" + strings.Join(kv, ",") + "}"
			}
			fmt.Println(name, v)
		}
	}
	show("jetq_up")
	show("jetq_queue_pending_tasks", "task")
	show("messaging_process_duration_seconds", "jetq_task_name", "jetq_outcome")

	// Output:
	// jetq_up 1
	// jetq_queue_pending_tasks{task="email.send"} 0
	// jetq_queue_pending_tasks{task="report.render"} 2
	// messaging_process_duration_seconds{jetq_outcome="ack",jetq_task_name="email.send"} 3
}
