package metrics

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Metrics is everything one process exposes to Prometheus: the queue
// statistics of a [Collector], the Go runtime and process collectors, and
// the OpenTelemetry instruments recorded through [Metrics.MeterProvider],
// all in one registry served by [Metrics.Handler]. It is safe for concurrent
// use. It starts no goroutine and needs no shutdown: every value is computed
// when a scrape asks for it.
type Metrics struct {
	reg     *prometheus.Registry
	mp      *sdkmetric.MeterProvider
	handler http.Handler
}

// New returns a Metrics whose queue statistics are read through js. It does
// no I/O. It returns an error wrapping [ErrInvalidOption] for a nil js, a
// bad prefix or a timeout that is not positive.
func New(js jetstream.JetStream, opts ...Option) (*Metrics, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	cs := []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	if !cfg.noGauges {
		col, err := NewCollector(js, opts...)
		if err != nil {
			return nil, err
		}
		cs = append(cs, col)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	// The translation is explicit: the exporter's default follows a global
	// of prometheus/common and is due to change, and the names are
	// documented, and used by the Grafana dashboard, as they are here.
	exp, err := otelprom.New(otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes))
	if err != nil {
		return nil, fmt.Errorf("metrics: prometheus exporter: %w", err)
	}
	handler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(cfg.log.Handler(), slog.LevelError),
		Registry: reg, // counts promhttp_metric_handler_errors_total
	})
	return &Metrics{
		reg:     reg,
		mp:      sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)),
		handler: promhttp.InstrumentMetricHandler(reg, handler),
	}, nil
}

// Handler returns the http.Handler that serves the registry in the
// Prometheus exposition format, as negotiated with the scraper: mount it at
// /metrics. Each request reads the queue statistics from the server once.
// It answers 500 only when the registry itself cannot be gathered; a server
// that cannot be read is reported as jetq_up 0 (see [Collector]).
func (m *Metrics) Handler() http.Handler { return m.handler }

// MeterProvider returns the OpenTelemetry meter provider whose instruments
// [Metrics.Handler] serves: pass it to tracing.WithMeterProvider for
// tracing.Consumer and tracing.Producer. Its resource comes from the
// environment (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) and is served as
// target_info.
func (m *Metrics) MeterProvider() metric.MeterProvider { return m.mp }

// Registry returns the registry [Metrics.Handler] serves, to register the
// program's own collectors next to jetq's.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }
