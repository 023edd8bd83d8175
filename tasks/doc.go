// Package tasks defines typed background tasks: what a task is called, what it
// carries, how often it may be tried and how long it may run, and the handlers
// that run it. It is the one package both sides of jetq share: a producer
// enqueues with a [Definition] and a worker runs the [Handle]d function for it.
//
// # Defining a task
//
// A task is defined once, as a package-level value, and used on both sides:
//
//	var Email = tasks.Define[EmailArgs]("email.send",
//		tasks.WithMaxAttempts(5), tasks.WithTimeout(30*time.Second))
//
// Names are lower-case dot-separated tokens ("billing.charge"); they become
// NATS subject tokens, so anything else is refused. A name is at most 200
// bytes and a queue at most 64; together, len(queue)+1+len(name) is at most
// 255, since the worker's durable consumer is named queue + ":" + name.
//
// What the server keeps per task type is declared here too, so that every
// worker asks for the same: [WithAckWait], how soon a silent worker's task
// goes to another, and [WithMaxConcurrency], a cap on how many of the type
// run at once across all workers:
//
//	var Charge = tasks.Define[ChargeArgs]("billing.charge",
//		tasks.WithMaxConcurrency(4), // the payment API allows four at a time
//		tasks.WithAckWait(time.Minute))
//
// So are rate limits: [WithRateLimit] bounds how many tasks of the type
// start per interval across every worker, [WithKeyRateLimit] how many
// with one key ([KeyOf], set by producer.WithKey). The server counts them
// (nats-server 2.12 or newer); a task over a limit waits without spending
// an attempt:
//
//	var Sync = tasks.Define[SyncArgs]("crm.sync",
//		tasks.WithRateLimit(50, time.Second),    // the CRM's API allows 50/s
//		tasks.WithKeyRateLimit(5, time.Second))  // and 5/s per account
//
// # Handlers and outcomes
//
// A handler is func(ctx, *Task[T]) error. Returning nil acknowledges the task;
// any other error retries it with exponential backoff until its attempts run
// out, then files it in the dead-letter stream. [Permanent] dead-letters at
// once, [RetryAfter] retries after exactly the given delay, and [Snooze]
// runs the task again after a delay as the same attempt: it spends no
// attempt, so a task may snooze as often as it needs. A payload type with
// a Validate() error method is validated at enqueue and again before the handler
// runs; a failure wraps [ErrInvalidPayload].
//
// # Results
//
// [DefineResult] declares a task whose handler returns a value next to its
// error; [HandleResult] registers it. The worker stores the value, encoded
// with the definition's codec, with the task's final outcome, for the
// definition's retention ([WithRetention], default [DefaultRetention]),
// and inspect.Result reads it from any process:
//
//	var Resize = tasks.DefineResult[ResizeArgs, Thumbnail]("image.resize")
//	tasks.MustHandleResult(reg, Resize, func(ctx context.Context, t *tasks.Task[ResizeArgs]) (Thumbnail, error) { ... })
//
// A result that does not encode dead-letters the task with
// [ReasonInvalidResult], without retries.
//
// # Middleware
//
// [Middleware] wraps the processing of every delivery on a worker and
// [EnqueueMiddleware] wraps every publish on a producer; both see the untyped
// [Envelope], which is how tracing, metrics and logging plug in.
//
// See the package examples for a complete define/enqueue/handle round trip.
package tasks
