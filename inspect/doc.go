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
// # Tasks by state
//
// [Inspector.Tasks] returns a page of one state's tasks, filtered by queue,
// task, enqueue time and a payload field ([Match], [ParseMatch]); its doc
// says how each list is read and what a page costs. [Page.Next] continues
// the list; a token is refused, with [ErrInvalidQuery], by a query of
// another state or other filters.
//
// # Actions
//
// [Inspector.Delete] removes a pending task, [Inspector.RunNow] and
// [Inspector.Cancel] run or withdraw a scheduled one, [Inspector.RetryNow]
// retries a retrying one now. An action on a task that left the state
// returns [ErrMovedOn] and changes nothing. [Inspector.PlanBulk] counts what
// an action over a query would touch, and [Inspector.ApplyBulk] then acts on
// exactly those tasks, after a confirmation.
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
