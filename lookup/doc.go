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
// It creates nothing on the server. The work stream is not indexed by task
// ID, so Find reads its messages oldest first — on the task's own subject
// when another source names the task, on every task subject otherwise — at
// most [WithScan] of them (default [DefaultScan]), and says so in
// [Result.Notes] when it stopped there.
package lookup
