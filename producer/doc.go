// Package producer enqueues tasks: it publishes task envelopes to the work
// stream and returns once the server has stored them.
//
// # Enqueueing
//
//	p, err := producer.New(js)
//	r, err := producer.Enqueue(ctx, p, Email, EmailArgs{To: "ada@example.com"})
//
// [Enqueue] publishes one task and waits for the server's acknowledgement.
// [EnqueueBatch] publishes many asynchronously, awaits every acknowledgement
// and reports each task's result. Payloads are validated and encoded before
// anything is published: a bad payload is refused with an error wrapping
// tasks.ErrInvalidPayload and nothing is enqueued.
//
// # Delivery guarantees
//
// Every task carries its ID in Nats-Msg-Id, so the server drops a second task
// with the same ID within the work stream's deduplication window; [WithID]
// chooses the ID (for idempotent enqueue), otherwise a time-ordered UUIDv7 is
// generated. A publish that fails with a disconnect, a timeout or a leader
// change is retried with the same ID, so a retry never duplicates a task.
// A full queue is refused with [ErrQueueFull], which is worth retrying later.
//
// # Streams
//
// The first enqueue creates the streams jetq needs if they are missing; see
// [WithReplicas], [WithQueueLimits] and [WithPrefix] for their shape.
package producer
