// Package metrics exposes jetq to Prometheus on one handler: per task type,
// what its queue holds, read from the server on each scrape, next to the
// OpenTelemetry instruments of package tracing.
//
// # Setup
//
//	m, err := metrics.New(js)
//	http.Handle("/metrics", m.Handler())
//	mp := tracing.WithMeterProvider(m.MeterProvider())
//	w, err := consumer.New(js, reg, consumer.WithMiddleware(tracing.Consumer(mp)))
//
// [New] puts a [Collector], the Go and process collectors and an
// OpenTelemetry Prometheus exporter in one registry, [Metrics.Registry]. A
// program with a registry of its own registers the [Collector] that
// [NewCollector] returns instead.
//
// # Queue gauges
//
// Labelled queue and task, from one [inspect.Inspector.Queues] per scrape
// (inspect.Inspector.Queues says where the numbers come from):
//
//	jetq_queue_pending_tasks               stored, not yet delivered
//	jetq_queue_running_tasks               run by a handler of a live worker now
//	jetq_queue_held_tasks                  held by live workers, no handler yet (prefetch)
//	jetq_queue_waiting_to_retry_tasks      not settled, held by no live worker
//	jetq_queue_in_flight_tasks             not settled: running + held + waiting to retry
//	jetq_queue_redelivered_tasks           not settled, delivered more than once
//	jetq_queue_scheduled_tasks             delayed, not fired yet
//	jetq_queue_oldest_pending_age_seconds  age of the oldest pending task, 0 if none
//	jetq_queue_paused                      1 while the task type is paused
//	jetq_queue_paused_until_seconds        when the pause ends (Unix s); +Inf until resumed, 0 if not paused
//	jetq_queue_workers                     live worker processes serving it
//	jetq_dlq_tasks                         its records in the dead-letter stream
//	jetq_queue_cancelled_tasks             cancelled in the last seven days
//
// # Limit gauges
//
// From one [inspect.Inspector.Limits] per scrape, for the task types a live
// worker serves with a rate limit (labelled scope "type" for
// tasks.WithRateLimit, "key" for tasks.WithKeyRateLimit) or a concurrency
// per key. A label key is set only on the busiest [inspect.TopKeys] keys of
// a type, so the series stay bounded however many keys there are (the
// tasks without a key have key ""):
//
//	jetq_rate_limit_limit               starts allowed per window (per key, scope key)
//	jetq_rate_limit_window_seconds      the window's length
//	jetq_rate_limit_starts              starts granted in the current window (over every key)
//	jetq_rate_limit_waiting_tasks       type: queued on the server; key: held by workers for their key's window
//	jetq_rate_limit_keys                keys that asked for a start in the window
//	jetq_rate_limit_top_key_starts      {key} starts of each of the busiest keys in the window
//	jetq_key_concurrency_limit          tasks of one key allowed to run at once
//	jetq_key_running_places             places taken, over every key: tasks running
//	jetq_key_running_keys               keys with a task running
//	jetq_key_running_top_key_places     {key} places of each of the busiest keys
//
// They describe the server, so every process serving them reports the same
// values: aggregate them with max by (queue, task), not sum. Each scrape
// that serves them reads every task type's state from the server, so on a
// large fleet serve them from one process (the dashboard does) and give the
// workers [WithoutQueueGauges].
//
// # Failed scrapes
//
// jetq_up is 1 when the scrape read the server (the queues and the limits)
// and 0 when it could not within [WithTimeout]; then the queue and limit
// gauges are left out,
// jetq_scrape_errors_total counts the failure and the error is logged, and
// the rest of the registry is still served, with status 200. Alert on
// jetq_up == 0. jetq_scrape_duration_seconds is how long the read took.
//
// # OpenTelemetry instruments
//
// What tracing.Consumer and tracing.Producer record through
// [Metrics.MeterProvider], with their attributes as labels, "." turned into
// "_" (jetq_task_name, jetq_task_queue, jetq_outcome, error_type,
// jetq_dead_letter_reason, jetq_task_retry, messaging_*), plus otel_scope_*
// labels and a target_info series for the resource:
//
//	messaging_client_sent_messages_total      counter    tasks published
//	messaging_client_consumed_messages_total  counter    deliveries started
//	messaging_process_duration_seconds        histogram  attempts, by jetq_outcome, error_type
//	jetq_task_wait_duration_seconds           histogram  enqueue to an attempt's start
//	jetq_task_active                          gauge      attempts running
//	jetq_task_dead_lettered_total             counter    by jetq_dead_letter_reason
//
// # Grafana
//
// [GrafanaDashboard] is a dashboard on these metrics (metrics/grafana/jetq.json),
// filtered by queue and task. See the Example for a worker serving /metrics.
package metrics
