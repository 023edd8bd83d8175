// Package flow runs what follows a task's final settlement: its callbacks
// (producer.OnSuccess, producer.OnFailure) and, for a workflow step, the
// workflow's bookkeeping (record the step, enqueue the dependents whose
// parents are all done, stop the dependents of a failed step, run the
// workflow's failure callback). The worker runs it before it acknowledges
// the task and the dead-letter forwarder before it deletes it, so a process
// that dies half-way leaves the task to be delivered again, and the next
// delivery finishes the work: every step of it is idempotent.
package flow
