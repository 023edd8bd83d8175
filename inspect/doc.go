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
// # Queues, workers and one task
//
// [Inspector.Queues] counts, per task type, what waits, runs, is held in a
// prefetch, waits to retry, is delayed or dead-lettered, from the durable
// consumers' state and the workers' presence entries ([Inspector.Workers]);
// its documentation says where each number comes from. [Inspector.Find]
// looks one task ID up everywhere, within bounds it reports;
// [Inspector.Status] and [Inspector.WaitStatus] read a tracked task's
// status record.
//
// # Dead letters and schedules
//
// [Inspector.DeadLetters] lists the dead-letter stream through a
// [DeadLetterFilter], paged with After; records are replayed, deleted and
// purged one by one or by filter. [Inspector.DelayedTasks] and
// [Inspector.PeriodicTasks] list what waits in the schedule stream;
// [Inspector.CancelDelayed] and [Inspector.RemovePeriodic] withdraw it.
// Periodic tasks are declared with the schedule package.
//
// See the package examples.
package inspect
