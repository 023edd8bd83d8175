package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetq/jetq/inspect"
)

// The gauges of one task type, labelled queue and task.
var (
	labels = []string{"queue", "task"}

	descPending = prometheus.NewDesc("jetq_queue_pending_tasks",
		"Tasks stored and not yet delivered to a worker.", labels, nil)
	descRunning = prometheus.NewDesc("jetq_queue_running_tasks",
		"Tasks a handler of a live worker runs now.", labels, nil)
	descHeld = prometheus.NewDesc("jetq_queue_held_tasks",
		"Deliveries live workers hold with no handler running them: in a worker's prefetch, or being settled.", labels, nil)
	descWaitingToRetry = prometheus.NewDesc("jetq_queue_waiting_to_retry_tasks",
		"Deliveries not settled that no live worker holds: waiting out a retry backoff, or of a worker that is gone.", labels, nil)
	descInFlight = prometheus.NewDesc("jetq_queue_in_flight_tasks",
		"Deliveries not settled (running plus held plus waiting to retry).", labels, nil)
	descRedelivered = prometheus.NewDesc("jetq_queue_redelivered_tasks",
		"Deliveries not settled that were delivered more than once.", labels, nil)
	descScheduled = prometheus.NewDesc("jetq_queue_scheduled_tasks",
		"Delayed tasks that have not fired yet.", labels, nil)
	descOldest = prometheus.NewDesc("jetq_queue_oldest_pending_age_seconds",
		"How long the oldest pending task has been stored; 0 when none is pending.", labels, nil)
	descPaused = prometheus.NewDesc("jetq_queue_paused",
		"1 while the task type is paused, else 0.", labels, nil)
	descPausedUntil = prometheus.NewDesc("jetq_queue_paused_until_seconds",
		"When the task type's pause ends, in Unix seconds: +Inf while it is paused until resumed, 0 when it is not paused.", labels, nil)
	descWorkers = prometheus.NewDesc("jetq_queue_workers",
		"Live worker processes serving the task type.", labels, nil)
	descDeadLettered = prometheus.NewDesc("jetq_dlq_tasks",
		"Dead-letter records of the task type in the dead-letter stream.", labels, nil)
	descCancelled = prometheus.NewDesc("jetq_queue_cancelled_tasks",
		"Tasks of the type cancelled in the last seven days (one cancel record each).", labels, nil)
)

// The gauges of the limits of one task type (inspect.Inspector.Limits),
// labelled queue and task, and scope ("type" or "key") for a rate limit;
// the top keys' are labelled key too, at most inspect.TopKeys a type.
var (
	scopeLabels = []string{"queue", "task", "scope"}
	keyLabels   = []string{"queue", "task", "key"}

	descRateLimit = prometheus.NewDesc("jetq_rate_limit_limit",
		"Starts the task type's rate limit allows per window; scope key: per key.", scopeLabels, nil)
	descRateWindow = prometheus.NewDesc("jetq_rate_limit_window_seconds",
		"The interval of the task type's rate limit.", scopeLabels, nil)
	descRateStarts = prometheus.NewDesc("jetq_rate_limit_starts",
		"Starts the server granted in the rate limit's current window; scope key: over every key.", scopeLabels, nil)
	descRateWaiting = prometheus.NewDesc("jetq_rate_limit_waiting_tasks",
		"Tasks waiting on the rate limit: scope type, the tasks queued on the server; scope key, the tasks workers hold for their key's window.", scopeLabels, nil)
	descRateKeys = prometheus.NewDesc("jetq_rate_limit_keys",
		"Keys that asked for a start in the current window of the task type's key rate limit.", labels, nil)
	descRateTopKey = prometheus.NewDesc("jetq_rate_limit_top_key_starts",
		"Starts granted in the current window to each of the keys with the most, at most 10 keys a task type.", keyLabels, nil)
	descKeyLimit = prometheus.NewDesc("jetq_key_concurrency_limit",
		"Tasks of one key the task type lets run at once.", labels, nil)
	descKeyPlaces = prometheus.NewDesc("jetq_key_running_places",
		"Places taken by running tasks of the task type with a concurrency per key, over every key.", labels, nil)
	descKeyKeys = prometheus.NewDesc("jetq_key_running_keys",
		"Keys of the task type with a task running.", labels, nil)
	descKeyTopKey = prometheus.NewDesc("jetq_key_running_top_key_places",
		"Places taken by each of the keys with the most tasks running, at most 10 keys a task type.", keyLabels, nil)
)

// The health of the collector's own read of the server.
var (
	descUp = prometheus.NewDesc("jetq_up",
		"1 when the last scrape read the queue statistics from the server, 0 when it failed.", nil, nil)
	descDuration = prometheus.NewDesc("jetq_scrape_duration_seconds",
		"How long the scrape's read of the queue statistics took.", nil, nil)
)

// Collector is a prometheus.Collector of jetq's queue statistics, read from
// the server on every scrape. Register it with a prometheus.Registerer, or
// use [New], which does. It is safe for concurrent use; concurrent scrapes
// each read the server.
//
// A scrape that cannot read the server within the timeout ([WithTimeout])
// reports jetq_up 0, counts jetq_scrape_errors_total, logs the error at Warn
// and reports no per-task gauges, so the other collectors of the registry
// (the workers' OpenTelemetry metrics) are still served.
//
// Two Collectors report the same metric names: to watch two prefixes from
// one registry, register each through prometheus.WrapRegistererWith with a
// label that tells them apart.
type Collector struct {
	in      *inspect.Inspector
	timeout time.Duration
	log     *slog.Logger
	errs    prometheus.Counter
}

// NewCollector returns a Collector reading the queues through js. It does
// no I/O. It returns an error wrapping [ErrInvalidOption] for a nil js, a
// bad prefix or a timeout that is not positive.
func NewCollector(js jetstream.JetStream, opts ...Option) (*Collector, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	in, err := inspect.New(js, inspect.WithTopology(cfg.pub), inspect.WithLogger(cfg.log))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return &Collector{
		in:      in,
		timeout: cfg.timeout,
		log:     cfg.log,
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jetq_scrape_errors_total",
			Help: "Scrapes that could not read the queue statistics from the server.",
		}),
	}, nil
}

// Describe sends the descriptors of every metric the Collector reports; it
// implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPending, descRunning, descHeld, descWaitingToRetry, descInFlight,
		descRedelivered, descScheduled, descOldest, descPaused, descPausedUntil, descWorkers, descDeadLettered, descCancelled,
		descRateLimit, descRateWindow, descRateStarts, descRateWaiting, descRateKeys, descRateTopKey,
		descKeyLimit, descKeyPlaces, descKeyKeys, descKeyTopKey,
		descUp, descDuration} {
		ch <- d
	}
	c.errs.Describe(ch)
}

// Collect reads the statistics of every task type from the server, once,
// and sends them; it implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	// Collect has no ctx (client_golang#1538): the timeout is what bounds it.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	start := time.Now()
	rows, err := c.in.Queues(ctx)
	var limits []inspect.Limits
	if err == nil {
		limits, err = c.in.Limits(ctx)
		if err != nil {
			err = fmt.Errorf("limits: %w", err)
		}
	}
	ch <- prometheus.MustNewConstMetric(descDuration, prometheus.GaugeValue, time.Since(start).Seconds())
	if err != nil {
		c.errs.Inc()
		attrs := []slog.Attr{slog.String(keyError, err.Error())}
		if errors.Is(err, context.DeadlineExceeded) {
			attrs = append(attrs, slog.Duration(keyTimeout, c.timeout))
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "metrics: cannot read queue statistics", attrs...)
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		c.errs.Collect(ch)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	c.errs.Collect(ch)
	for _, l := range limits {
		collectLimits(ch, l)
	}
	for _, r := range rows {
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, r.Queue, r.Task)
		}
		gauge(descPending, float64(r.Pending))
		gauge(descRunning, float64(r.Running))
		gauge(descHeld, float64(r.Held))
		gauge(descWaitingToRetry, float64(r.WaitingToRetry))
		gauge(descInFlight, float64(r.InFlight))
		gauge(descRedelivered, float64(r.Redelivered))
		gauge(descScheduled, float64(r.Scheduled))
		gauge(descOldest, r.OldestPendingAge.Seconds())
		gauge(descPaused, boolValue(r.Paused))
		gauge(descPausedUntil, pausedUntil(r))
		gauge(descWorkers, float64(r.Workers))
		gauge(descDeadLettered, float64(r.DeadLettered))
		gauge(descCancelled, float64(r.Cancelled))
	}
}

// collectLimits sends the gauges of l's limits.
func collectLimits(ch chan<- prometheus.Metric, l inspect.Limits) {
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{l.Queue, l.Task}, extra...)...)
	}
	if r := l.Rate; r != nil {
		gauge(descRateLimit, float64(r.Limit.N), "type")
		gauge(descRateWindow, r.Limit.Per.Seconds(), "type")
		gauge(descRateStarts, float64(r.Used), "type")
		gauge(descRateWaiting, float64(r.Waiting), "type")
	}
	if r := l.KeyRate; r != nil {
		gauge(descRateLimit, float64(r.Limit.N), "key")
		gauge(descRateWindow, r.Limit.Per.Seconds(), "key")
		gauge(descRateStarts, float64(r.Used), "key")
		gauge(descRateWaiting, float64(r.Waiting), "key")
		gauge(descRateKeys, float64(r.Keys))
		for _, k := range r.Top {
			gauge(descRateTopKey, float64(k.Count), k.Key)
		}
	}
	if c := l.KeyConcurrency; c != nil {
		gauge(descKeyLimit, float64(c.Limit))
		gauge(descKeyPlaces, float64(c.Running))
		gauge(descKeyKeys, float64(c.Keys))
		for _, k := range c.Top {
			gauge(descKeyTopKey, float64(k.Count), k.Key)
		}
	}
}

// pausedUntil is the value of jetq_queue_paused_until_seconds of r.
func pausedUntil(r inspect.QueueStats) float64 {
	switch {
	case !r.Paused:
		return 0
	case r.PausedUntil.IsZero():
		return math.Inf(1)
	}
	return float64(r.PausedUntil.UnixNano()) / 1e9
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
