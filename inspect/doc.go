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
// See the package examples.
package inspect
