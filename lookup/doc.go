// Package lookup finds a task by its ID wherever the server holds it: its
// status record, its dead-letter records, its message in the work stream
// while it is queued or running, and the delayed task still waiting for
// its time. `jetq task show` and the dashboard's task page print what it
// finds.
//
//	f, err := lookup.New(js)
//	r, err := f.Find(ctx, "order:7")
//	if r.Found() { ... }
//
// It creates nothing on the server. Neither the work stream nor the
// dead-letter stream is indexed by task ID, so Find reads their messages
// and matches the ID: on the task's own subjects when its status record or
// schedule names the task, on every task subject otherwise. It reads at
// most the newest [WithDeadLetterScan] dead-letter records (default
// [DefaultDeadLetterScan]) and the oldest [WithScan] work-stream messages
// (default [DefaultScan]), and says so in [Result.Notes] when it stopped
// there.
//
// The server tells whether a work-stream message was delivered, not what
// became of the delivery: a handler may run it, a worker may hold it in its
// prefetch, or it may wait out a retry backoff. [Work.State] says
// [WorkRunning] or [WorkWaitingToRetry] when the task's status record says
// so, and [WorkDelivered] when there is no status to tell, so that the work
// stream never calls running a task that its status says waits to retry.
package lookup
