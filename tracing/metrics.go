package tracing

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/messagingconv"

	"github.com/jetq/jetq/tasks"
)

// Bucket boundaries in seconds: the messaging conventions' advice, extended
// for background tasks that run, or wait, for minutes and hours.
var (
	processBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 120, 300, 600, 1800}
	waitBuckets    = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 300, 900, 3600, 21600}
)

// producerMetrics are the instruments of [Producer].
type producerMetrics struct {
	sent messagingconv.ClientSentMessages
	sets *setCache
}

func newProducerMetrics(m metric.Meter) producerMetrics {
	sent, err := messagingconv.NewClientSentMessages(m)
	handle(err)
	return producerMetrics{sent: sent, sets: &setCache{}}
}

// record counts a published batch: one Add per distinct task type and error
// type, which for a batch of one task type is one or two.
func (pm producerMetrics) record(ctx context.Context, batch []*tasks.Envelope, errs []error) {
	if !pm.sent.Enabled(ctx) {
		return
	}
	type count struct {
		key setKey
		n   int64
	}
	var counts []count
next:
	for i, env := range batch {
		k := setKey{subject: env.Subject, task: env.Name, queue: env.Queue}
		if errs[i] != nil {
			k.extra[0] = errorType(errs[i])
		}
		for j := range counts {
			if counts[j].key == k {
				counts[j].n++
				continue next
			}
		}
		counts = append(counts, count{key: k, n: 1})
	}
	for _, c := range counts {
		pm.sent.AddSet(ctx, c.n, pm.sets.get(c.key, sendAttrs))
	}
}

func sendAttrs(k setKey) []attribute.KeyValue {
	return []attribute.KeyValue{
		systemNATS,
		semconv.MessagingOperationName(opSend),
		semconv.MessagingDestinationName(k.subject),
		keyTask.String(k.task),
		keyQueue.String(k.queue),
	}
}

// consumerMetrics are the instruments of [Consumer].
type consumerMetrics struct {
	consumed     messagingconv.ClientConsumedMessages
	duration     messagingconv.ProcessDuration
	wait         metric.Float64Histogram
	active       metric.Int64UpDownCounter
	deadLettered metric.Int64Counter
	sets         *setCache
}

func newConsumerMetrics(m metric.Meter) consumerMetrics {
	var (
		cm  = consumerMetrics{sets: &setCache{}}
		err error
	)
	cm.consumed, err = messagingconv.NewClientConsumedMessages(m)
	handle(err)
	cm.duration, err = messagingconv.NewProcessDuration(m, metric.WithExplicitBucketBoundaries(processBuckets...))
	handle(err)
	cm.wait, err = m.Float64Histogram("jetq.task.wait.duration",
		metric.WithDescription("Time from a task's enqueue (a delayed task's firing) to the start of an attempt; retries include their backoff."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	handle(err)
	cm.active, err = m.Int64UpDownCounter("jetq.task.active",
		metric.WithDescription("Number of tasks being processed."),
		metric.WithUnit("{task}"))
	handle(err)
	cm.deadLettered, err = m.Int64Counter("jetq.task.dead_lettered",
		metric.WithDescription("Number of tasks filed in the dead-letter stream."),
		metric.WithUnit("{task}"))
	handle(err)
	return cm
}

// handle reports an instrument that could not be created to the otel error
// handler: the middleware still works, with a no-op instrument in its place.
func handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

// enabled reports whether any consumer instrument records.
func (cm consumerMetrics) enabled(ctx context.Context) bool {
	return cm.consumed.Enabled(ctx) || cm.duration.Enabled(ctx) || cm.wait.Enabled(ctx) ||
		cm.active.Enabled(ctx) || cm.deadLettered.Enabled(ctx)
}

// started records the start of a delivery of env at start.
func (cm consumerMetrics) started(ctx context.Context, env *tasks.Envelope, start time.Time) {
	k := processKey(env)
	base := cm.sets.get(k, processAttrs)
	cm.consumed.AddSet(ctx, 1, base)
	cm.active.Add(ctx, 1, metric.WithAttributeSet(base))
	if !env.EnqueuedAt.IsZero() {
		k.extra[0] = keyRetry.Bool(env.Attempt > 1)
		cm.wait.Record(ctx, max(start.Sub(env.EnqueuedAt), 0).Seconds(), metric.WithAttributeSet(cm.sets.get(k, processAttrs)))
	}
}

// finished records the end of a delivery of env that took took and ended
// with err.
func (cm consumerMetrics) finished(ctx context.Context, env *tasks.Envelope, err error, took time.Duration) {
	k := processKey(env)
	cm.active.Add(ctx, -1, metric.WithAttributeSet(cm.sets.get(k, processAttrs)))
	o := env.Outcome
	k.extra[0] = keyOutcome.String(o.Action.String())
	if err != nil {
		k.extra[1] = errorType(err)
	}
	cm.duration.RecordSet(ctx, took.Seconds(), cm.sets.get(k, processAttrs))
	if o.Action == tasks.ActionDeadLetter {
		k.extra = [2]attribute.KeyValue{keyReason.String(string(o.Reason))}
		cm.deadLettered.Add(ctx, 1, metric.WithAttributeSet(cm.sets.get(k, processAttrs)))
	}
}

func processKey(env *tasks.Envelope) setKey {
	return setKey{subject: env.Subject, task: env.Name, queue: env.Queue, consumer: env.Consumer}
}

func processAttrs(k setKey) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs,
		systemNATS,
		semconv.MessagingOperationName(opProcess),
		semconv.MessagingDestinationName(k.subject),
		keyTask.String(k.task),
		keyQueue.String(k.queue),
	)
	if k.consumer != "" {
		attrs = append(attrs, semconv.MessagingConsumerGroupName(k.consumer))
	}
	return attrs
}
