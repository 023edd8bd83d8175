// Package inspect is the operator's side of a jetq deployment: one
// [Inspector] reads everything a deployment holds and acts on it. It lists
// queues and their counts, live workers, tasks by ID and by state (pending,
// running, retrying, scheduled, completed, failed), dead letters, delayed
// and periodic tasks, statuses and their history; and it deletes, runs,
// cancels and retries tasks, one at a time or in bulk over a filter. The
// dashboard, the metrics collector and the jetq command read through it.
//
// Create one with [New]; it does no I/O until it is called, creates
// nothing it reads, and is safe for concurrent use.
//
// # History
//
// [Inspector.History] returns the last hour, a point a minute: tasks
// enqueued, started, succeeded, failed and dead-lettered, the oldest
// pending task's age and the wait p50/p99 of the tasks started, for the
// deployment and per task type. Workers write it to the JETQ_HISTORY
// stream (see the consumer package); a deployment whose workers wrote none
// has no points.
//
// See the package examples.
package inspect
