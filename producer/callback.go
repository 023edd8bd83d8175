package producer

import "github.com/jetq/jetq/tasks"

// OnSuccess enqueues a task of cb when this task succeeds, once per
// settlement: cb's payload is this task's result, so cb's payload type must
// be the result type of the task's [tasks.ResultDefinition] (a mismatch is
// refused at the call with [ErrInvalidOption]). The callback's ID derives
// from this task's, so a worker that dies between the handler's return and
// the acknowledgement does not enqueue it twice. The callback reads this
// task's ID in its Task.Header (tasks.HeaderParent).
func OnSuccess[R any](cb tasks.Def[R]) EnqueueOption {
	return func(c *enqueueConfig) { c.err = errUnbuilt }
}

// OnFailure enqueues a task of cb, whose payload is a [tasks.Failure], when
// this task fails for good: dead-lettered (by its worker or by the
// forwarder) or expired. Once per settlement, like [OnSuccess].
func OnFailure(cb tasks.Def[tasks.Failure]) EnqueueOption {
	return func(c *enqueueConfig) { c.err = errUnbuilt }
}
