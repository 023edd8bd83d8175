// Package cancels keeps the cancel records of tasks, one key per cancelled
// task in the bucket wire.CancelBucketConfig describes: package inspect
// writes them, every worker watches them (consumer/cancel.go), and a
// worker settles a cancelled task as cancelled, unrun, or cancels the
// ctx of its running handler.
package cancels
