// Package schedule declares periodic tasks; they and delayed tasks are kept
// and fired by the server's own message scheduler (nats-server 2.14 or
// newer): durable, replicated, and with no poller and no leader process.
//
// Delayed tasks are enqueued with producer.WithDelay or producer.WithRunAt.
// Periodic tasks are declared with [Declare]: any number of processes may
// declare the same one at start-up, and the server fires it once per tick.
// The inspect package lists both, cancels a delayed task that has not
// fired and removes a periodic declaration.
//
// # Layout
//
// Schedules live in the stream JETQ_SCHEDULES, next to the work stream
// rather than in it: a stream that schedules may not refuse messages when
// full (DiscardNew), and the work stream must, so that a full queue gives
// producer.ErrQueueFull instead of evicting tasks. Each delayed task waits
// on a subject of its own, jetq.sched.at.<id> (the server keeps one
// schedule per subject), and each periodic declaration on
// jetq.sched.every.<name>. The server fires them onto
// jetq.fire.<queue>.<task> in the same stream, and the work stream sources
// that subject as jetq.task.<queue>.<task>. While the work stream is full,
// fired tasks wait in the schedule stream: nothing is lost or evicted.
// No consumer may read jetq.sched.>: in a WorkQueue stream one that
// acknowledged a schedule would cancel it.
//
// # Once per firing
//
// The scheduler strips Nats-Msg-Id from what it fires, so the work stream
// cannot drop a copy that its sourcing stores twice after a leader change.
// A worker claims a fired task's ID (bucket JETQ_FIRED, kept 24 h) before
// it runs it: another copy of the same firing is terminated unrun, and a
// redelivery of one that succeeded (its ack lost) is acknowledged unrun.
//
// # IDs
//
// A delayed task keeps the ID it was enqueued with (WithID or generated),
// and an enqueue with the same ID within the dedup window stores nothing
// new, as for immediate tasks. Each firing of a periodic task has the ID
// "<name>@<tick>", the tick being its scheduled time in RFC 3339 UTC, so
// every process computes the same ID for it; see [ID].
//
// # Missed ticks
//
// Ticks that fall while the server is down are not made up one by one:
// on recovery the server fires a periodic task once, then follows its
// schedule again. That catch-up run happens by default; a declaration with
// StaleAfter drops a tick not started within StaleAfter of its time
// instead (the task is settled as expired).
package schedule
