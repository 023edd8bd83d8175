// Package taskstest runs a task handler in a unit test, without NATS, and
// reports the settlement a worker would apply: acknowledged, retried after a
// delay, or dead-lettered with a reason.
//
//	out := taskstest.Run(ctx, billing.Charge, chargeHandler, billing.ChargeArgs{Cents: 500},
//		taskstest.WithAttempt(3))
//	if out.Action != tasks.ActionRetry { ... }
//
// The payload travels as it would: encoded and decoded with the definition's
// codec and validated, so a payload the worker would refuse is reported as
// dead-lettered with reason invalid_payload. The handler runs under the
// definition's timeout, and a panic becomes a retry, as on a worker.
//
// [RunResult] does the same for a result task (tasks.DefineResult) and also
// returns its result as the worker would store it.
package taskstest
