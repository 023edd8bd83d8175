// Package inspect is the operator's side of a jetq deployment: one
// [Inspector] reads everything a deployment holds and acts on it. The
// dashboard, the metrics collector and the jetq command read through it.
// Create one with [New]; it does no I/O until it is called, creates
// nothing it reads, and is safe for concurrent use.
//
// # Queues, workers and one task
//
// [Inspector.Queues] counts per task type what waits, runs, is held, waits
// to retry, is delayed or dead-lettered, from the durable consumers' state
// and the workers' presence entries ([Inspector.Workers]); its doc says
// where each number comes from. [Inspector.Find] looks a task ID up
// everywhere, within bounds it reports; [Inspector.Status] and
// [Inspector.WaitStatus] read a tracked task's status record.
//
// # Pausing
//
// [Inspector.Pause] stops the tasks of a [Scope] from starting — every
// queue, one queue, or one task type — until [Inspector.Resume] or a
// given time; [Inspector.Pauses] lists the pauses in force. The server
// enforces a pause on each task type's durable consumer (PauseUntil), and
// keeps it as a record that workers read when they create a consumer, so
// it outlives worker restarts and holds for task types deployed later.
//
// # Limits
//
// [Inspector.Limits] (one type: [Inspector.Limit]) shows per task type
// with a rate limit or a concurrency per key: the limit, as the live
// workers' definition has it; the starts the server's counter granted in
// the current window and the tasks waiting on it; per key, the keys that
// started in the window, the tasks workers hold for their key's window,
// and the busiest [TopKeys] keys; for a concurrency per key, the keys
// running, the places taken and the busiest keys, from the bucket
// JETQ_KEYSLOTS.
//
// # Results
//
// [Result] waits for the result of a task of a tasks.DefineResult
// definition, from any process, on a watch of its final record: the
// decoded value, or a *tasks.FailureError for a task dead-lettered,
// expired or cancelled. A large result is read from the JETQ_RESULTS
// object store. A task with no record yet is waited for until ctx ends.
//
// # Tasks by state
//
// [Inspector.Tasks] returns a page of one state's tasks, filtered by queue,
// task, enqueue time and a payload field ([Match], [ParseMatch]); its doc
// says how each list is read and what a page costs. [Page.Next] continues
// the list; a token is refused, with [ErrInvalidQuery], by a query of
// another state or other filters.
//
// The completed list is the history of the task types that keep their
// final outcome (tasks.WithRetention): each task that succeeded, newest
// first, with its attempts, when its last attempt ran and for how long
// ([TaskInfo.Duration]), the error its record holds and the size of
// its result ([TaskInfo.ResultSize]). It costs one status write a task at
// its settlement, kept until the retention ends (BenchmarkCompletedHistory
// prints the bytes a record stores). A task that failed for good is listed
// as failed, from the dead-letter stream, where it can be replayed.
//
// # Workflows
//
// [Inspector.Workflow] reads a workflow (package workflow) with each
// step's state, attempts, result size, dependencies and error;
// [Inspector.CancelWorkflow] cancels a running or failed one: its steps not
// run yet never will. An unknown workflow is [ErrNotFound], one that
// succeeded or was cancelled already [ErrMovedOn].
//
// # Actions, dead letters and schedules
//
// [Inspector.Delete] removes a pending task, [Inspector.RunNow] runs a
// scheduled one now, [Inspector.RetryNow] retries a retrying one now; an
// action on a task that left the state returns [ErrMovedOn] and changes
// nothing. [Inspector.Cancel] cancels a task in any state: a delayed one
// is withdrawn, a queued one deleted, a running one has its handler's ctx
// cancelled on whichever worker runs it, and a cancel record that every
// worker watches drops the task unrun if it comes again. An unknown ID is
// [ErrNotFound], a task finished already [ErrMovedOn]. [Inspector.PlanBulk] counts
// what an action over a query would touch, [Inspector.ApplyBulk] acts on
// exactly those. [Inspector.DeadLetters] lists dead letters through a
// [DeadLetterFilter]; they are replayed, deleted and purged one by one or
// by filter. [Inspector.PeriodicTasks] lists the periodic declarations
// (made with the schedule package) and [Inspector.RemovePeriodic] removes
// one.
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
