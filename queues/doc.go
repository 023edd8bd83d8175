// Package queues reports, per task type, what its queue holds: tasks
// waiting, running, held in a worker's prefetch, waiting out a retry
// backoff, delayed, dead-lettered, and the workers serving it. `jetq
// queues` prints it.
//
// Create an [Inspector] with [New] and call [Inspector.List] for every task
// type found on the server, or [Inspector.Get] for one. Reading is all it
// does: it creates nothing, and a server where nothing was enqueued yet has
// no task types.
//
// # Where the numbers come from
//
// Each task type has one durable consumer on the work stream JETQ_TASKS,
// named "<queue>:<task with ':' for '.'>". Its info gives Pending (tasks
// stored and not yet delivered), the deliveries not yet settled
// (NumAckPending, [Stats.InFlight]), Redelivered and whether it is paused.
// A task type no worker has served yet has no consumer: its Pending is the
// number of its tasks in the work stream. DeadLettered counts the records
// in JETQ_DLQ on jetq.dlq.<queue>.<task>; Scheduled the delayed tasks in
// JETQ_SCHEDULES (jetq.sched.at.*) whose Nats-Schedule-Target is
// jetq.fire.<queue>.<task>, read in batches of 256 a request.
//
// # Running, held and waiting to retry
//
// The server cannot tell them apart: a task that failed and waits out its
// backoff (NakWithDelay) stays in NumAckPending until it is due, as does
// the delivery of a worker that died, until its ack wait expires, and a
// delivery waiting in a worker's prefetch counts the same as one a handler
// runs; the server lists none of them. So every worker keeps a presence
// entry in the key-value bucket JETQ_WORKERS, one key per worker process,
// rewritten every presence interval (consumer.WithPresenceInterval,
// default 2 s) with a time to live of three intervals. Per task type it
// holds the deliveries in the worker's hands and not yet settled, how many
// of them a handler runs, and the retries the worker set that are still to
// come, with the earliest of them. The entry of a worker that is gone
// expires on the server; a worker that stops deletes it.
//
// Then, per task type, of NumAckPending ([Stats.InFlight]):
//
//   - Workers is the number of live presence entries serving it;
//   - WaitingToRetry is the retries the live workers set that are still to
//     come, or, when more, what the live workers do not hold: that adds
//     retries set by workers that are gone and the deliveries of a worker
//     that died, which the server delivers again once their ack wait
//     expires. With no live worker, everything ack-pending waits to retry;
//   - Running is the handlers the live workers run, of the rest;
//   - Held is the rest: deliveries a live worker holds with no handler
//     running them yet (its prefetch), or is settling;
//   - NextAttemptAt is the earliest retry a live worker set, zero when no
//     live worker knows one (the worker that set it is gone).
//
// Running, Held and WaitingToRetry add up to InFlight. A retry a live
// worker set counts as waiting whatever the worker held at its last write,
// so a task waiting out a backoff does not flicker into Running while the
// workers settle other tasks between two writes.
//
// The entries are up to one interval old, so a task that just started or
// finished may be counted on the other side for that long; a worker that
// died counts as running or held for at most three intervals. Presence needs
// nats-server 2.11 or newer (per-message TTLs); without it workers log a
// warning, Workers is 0 and every task in flight shows as waiting to retry.
package queues
