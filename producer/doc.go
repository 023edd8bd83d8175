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
// # Groups
//
// [EnqueueGroup] enqueues the tasks of a [Group], of one or several types,
// all or nothing, as one atomic batch of the work stream (nats-server 2.12
// or newer): the server stores them all or none, and a full queue refuses
// the whole group with [ErrQueueFull].
//
//	g := producer.NewGroup()
//	producer.Add(g, Resize, ResizeArgs{ID: 7, Width: 640})
//	producer.Add(g, Notify, NotifyArgs{User: 42})
//	results, err := producer.EnqueueGroup(ctx, p, g)
//
// Atomic is each chunk of at most 1 000 tasks (nats-server's default
// max_batch_size): a larger group is published in chunks, in the order of
// [Add], and stops at the first chunk that fails; [GroupError] says how many
// tasks, from the first, were stored. IDs are fixed by Add, so a group
// enqueued again is stored once and its tasks are reported Duplicate.
// Delayed and unique tasks cannot be part of a group (they involve the
// schedule stream and the unique-key bucket, outside the batch). In memory
// a group enqueues faster than [EnqueueBatch]; on a single-replica file
// stream the server keeps each open batch in a file store of its own, which
// costs some 20 ms per chunk (bench/README.md has the figures).
//
// # Debounce
//
// [WithDebounce] makes the enqueues of one key within a window run once,
// with the last payload, window after the last enqueue (trailing edge):
//
//	producer.Enqueue(ctx, p, Reindex, doc, producer.WithDebounce(doc.ID, 5*time.Second))
//
// The key's task waits in the schedule stream on a subject of its own,
// where the server keeps one schedule: each enqueue replaces it. Every
// enqueue returns the key's task ID ([DebounceID]); Result.Debounced says
// it replaced one still waiting. See ExampleWithDebounce.
//
// # Delivery guarantees
//
// Every task carries its ID in Nats-Msg-Id, so the server drops a second task
// with the same ID within the work stream's deduplication window; [WithID]
// chooses the ID (for idempotent enqueue), otherwise a time-ordered UUIDv7 is
// generated. Enqueue returns nil only once the server has acknowledged the
// task: stored (on a majority of a replicated stream's nodes) or dropped as a
// duplicate of one stored.
//
// # Callbacks
//
// [OnSuccess] and [OnFailure] name a task to enqueue when this one succeeds
// (with its result) or fails for good (with a tasks.Failure). The worker
// enqueues it once per settlement, before it acknowledges the task, with an
// ID derived from the task's. The callback's types are checked at the call.
//
// # Failures and retries
//
// A publish that a later try may get through (no acknowledgement within
// [WithAckTimeout], a disconnect, a leader election, a leader cut off from its
// peers) is sent again with the same ID until [WithRetryTimeout] (30 s from
// the call) or ctx ends, and never after the deduplication window less one
// ack timeout: retries cannot enqueue a task twice. What still fails wraps
// [ErrUnavailable], whose message says whether the task is not stored yet,
// not stored, or may be stored. It and [ErrQueueFull] wrap [ErrRetryable]:
// call again later with the same ID. Other errors are final.
//
// # Streams
//
// The first enqueue creates the streams jetq needs if they are missing,
// shaped by the [topology.Topology] given with [WithTopology]: prefix,
// replicas, queue limits, deduplication window.
package producer
