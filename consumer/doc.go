// Package consumer runs task handlers: a [Worker] pulls tasks from the work
// stream and runs the handlers of a tasks.Registry with bounded concurrency,
// retries, heartbeats and graceful shutdown.
//
// # Running
//
//	w, err := consumer.New(js, reg, consumer.WithConcurrency(16))
//	err = w.Run(ctx) // blocks; cancel ctx to stop gracefully
//
// Each registered task has one durable pull consumer on the server, shared
// by every worker that handles it, so work spreads across processes and
// hosts and a worker never receives a task it has no handler for.
// [WithConcurrency] bounds the handlers running at once in one process,
// across all task types.
//
// # Settlement
//
// A handler that returns nil acknowledges its task. Any other error retries
// it after the definition's backoff (tasks.RetryAfter picks the delay), and
// the last attempt files it in the dead-letter stream; tasks.Permanent and
// payloads that do not decode or validate are dead-lettered at once. The
// record is stored before the task is removed, so a task is never lost; a
// record is filed while the task is kept alive, from the first try on and
// however long the tries take, so a slow or failed filing never runs the
// task again or changes its reason. A redelivered task whose record is
// filed already (its worker stopped before removing it) is removed without
// running.
//
// tasks.Snooze sets the task aside without spending an attempt: the server
// gives a delivery its attempt from its count of the message's deliveries
// and stops at MaxDeliver, so the worker stores a delayed copy of the task
// that carries the attempts spent before this one (and starts a delivery
// count of its own), then acknowledges the original; if it dies in
// between, the copy and the original's redelivery claim the same run and
// only one runs. See Example (Snooze).
//
// A task type with a retention (tasks.WithRetention, and every
// tasks.DefineResult) has its final outcome, result included, written to
// the status bucket in one write with the retention as the server's TTL
// before its acknowledgement or Term; a result task whose record cannot be
// written is handed back to run again two seconds later. A redelivered
// task whose record says done (its worker stopped between the write and
// the acknowledgement) is acknowledged without running again. A tracked task's
// status (tasks.WithStateTracking) is recorded by whatever settles it, the
// handler's return or the heartbeat abandoning a handler past its timeout. A panic, in a handler or a middleware, is
// recovered and retried; an attempt that outlives the definition's timeout
// has its ctx cancelled.
//
// # Cancelled tasks
//
// From its start, before it takes a task, a worker watches the cancel
// records that inspect's Cancel writes (the JETQ_CANCELS bucket) and keeps
// the cancelled IDs in memory. A task picked up whose ID is there is
// settled as cancelled without running: one map look-up a delivery, no
// request. A record that comes while a handler runs its task cancels the
// handler's ctx, with cause tasks.ErrCancelled; whatever error the handler
// then returns settles the task as cancelled (tasks.ActionCancel: Term,
// neither retried nor dead-lettered), through the same settlement as any
// other outcome, so a cancel racing the handler's return, the heartbeat or
// a stop settles it once. A handler that returns nil has done its task. A
// handler's ctx is its runner's, which a runner makes anew only after a
// cancel ended it: a plain task pays no ctx of its own for this.
//
// # Paused task types
//
// A pause (inspect's Pause) pauses a task type's durable consumer on the
// server, which then hands no worker its tasks, and writes a record in
// the JETQ_PAUSES bucket. A worker reads the records when it creates a
// consumer, so a type deployed into a paused queue starts paused, and
// watches them from its start: a task of a paused type that it had taken
// already and not started (prefetched, or held for its key's place) is set
// aside unrun, as a snooze is, and waits behind the paused consumer. While
// nothing is paused that check is one atomic load a delivery.
//
// # Follow-ups
//
// A task enqueued with callbacks (producer.OnSuccess, producer.OnFailure)
// has them enqueued when it settles for good (done, dead-lettered once its
// record is filed, expired), before its acknowledgement or removal, so a
// worker that dies in between leaves the task to be delivered again and
// the next delivery enqueues them again under the same IDs, which the work
// stream drops. A follow-up that cannot run yet is tried again in the
// background while the task is held, heartbeated; the task does not run
// again for it. Before running a callback, the worker claims its ID, so a
// copy stored after the deduplication window does not run twice.
//
// A workflow step's bookkeeping (internal/flow) is a follow-up too. Before
// a step runs, the worker reads its workflow's record and its parents'
// results, which its handler reads from ctx; a step whose workflow was
// cancelled is dropped unrun, and one whose success the record holds
// already is acknowledged unrun (a type with a retention goes by its own
// final record instead). Other tasks pay a header look-up.
//
// # Long tasks and failures
//
// While a handler runs the worker tells the server every third of the ack
// wait (tasks.WithAckWait) that it is alive, so a long task is not redelivered;
// a worker that dies stops doing so, and its tasks come back to other
// workers. The worker asks the server only for what it can hold: its free
// slots plus a prefetch sized from each type's recent handling time
// ([WithPrefetch]), each delivery heartbeated from the moment it arrives,
// so no task waits unseen in a client buffer while its ack wait runs out.
// It holds at most its concurrency plus its prefetch plus one task per task
// type (see [WithPrefetch] for when that last one comes). A worker whose
// slots are all busy, and which has no backlog to refill its prefetch
// from, makes no new pull, and the one-task pulls it made while a slot was
// free end within a second, so new tasks go to workers with free slots. It recreates consumers
// deleted on the server and resumes after a dropped connection by itself,
// saying so in its log.
//
// # Queues and priorities
//
// [WithQueues] limits a worker to some queues. Without a priority, every
// task type the worker serves takes its turn at the free slots, and a type
// with a rare task starts it within about one task's handling time, even
// behind a backlog of another type. [WithStrictPriority] takes the queues
// in WithQueues order: while a queue has tasks, no task of a queue after
// it is pulled. [WithQueueWeights] gives each queue a share of the starts
// in proportion to its weight while queues compete. JetStream has no
// priority between messages, so priority is the worker's choice of which
// task type it pulls from as a slot frees; a task's place within its own
// type is its place in the stream, and there are no priority levels
// within a queue: put urgent tasks in a queue of their own.
//
// # Concurrency per key
//
// A task type with tasks.WithKeyConcurrency(k) runs at most k tasks of one
// key at once across every worker. Before its handler runs, and before
// the middleware, a task takes one of its key's k places in the
// JETQ_KEYSLOTS bucket (Create, with a TTL of its type's ack wait); the
// worker renews the places it holds every third of that, and purges a
// place when it lets the task go, whatever the outcome, so a worker that
// dies frees its places within the ack wait. A task that finds no free
// place is held by its worker (up to 32 per place of a key, 256 in all,
// heartbeated, holding no slot and out of the intake's count), and a task
// that ends hands its place straight to the oldest task of its key the
// worker holds; a held task is woken by a watch of the bucket when any
// worker gives a place of its key back or one lapses. A task held 2 s, or
// that finds the holds full, is snoozed (a delayed copy that spends no
// attempt, see Settlement): it comes back behind the tasks queued
// meanwhile, in its key's schedule of as many returns a second per place
// as the key's tasks take to handle (20 to 200), so that
// every busy key is looked at about as often and one busy key does not
// starve the others. Tasks without a key share one count. Other types pay one
// field check. See Example (KeyConcurrency).
//
// # Rate limits
//
// A task type with tasks.WithRateLimit is pulled only for the starts the
// server has granted the worker in the current window, so its tasks over
// the limit stay queued on the server: no delivery, no attempt, no slot.
// A task of a type with tasks.WithKeyRateLimit over its key's limit is
// held by the worker that has it, heartbeated, out of its slots and
// intake, until a window grants its key a start; at most 256 per type,
// beyond which the worker pulls no more of that type. Starts are counted
// in the JETQ_RATES stream (nats-server 2.12 counters); on an older server
// Run returns an error wrapping [ErrUnsupported]. A type without a limit
// pays a nil check. See Example (RateLimit).
//
// # Payload checks
//
// While it runs, a worker answers payload checks for the tasks it serves, as
// the NATS micro service "jetq-validate" on <prefix>.validate.<queue>.<task>:
// it decodes the payload and calls its Validate method, as before a handler
// runs, without running anything. `jetq enqueue` asks before it enqueues.
// The service shares the worker's connection; while it runs, NATS micro
// wraps the connection's closed and error handlers, calling those set
// before, and puts them back when the worker stops.
//
// # History
//
// Once a minute ([WithHistoryInterval]) a worker writes what it did in the
// minute to the JETQ_HISTORY stream, which it creates: per task type the
// tasks it started, with a histogram of how long they had waited, and the
// tasks it settled; nothing when it did nothing, and nothing per task. One
// worker a minute also writes the deployment's state (tasks stored and
// pending, the oldest pending task, dead-letter records), the others see
// it there. A worker that stops writes its last minute before Run returns.
// The stream keeps 70 minutes; package inspect reads it, and the
// dashboard's chart comes from it.
//
// # A task's life in the worker
//
// Each delivery a worker holds has one state, changed only along one
// transition table (lifecycle.go, where the table and who moves a task
// between its states are written out): held (queued for a slot, or waiting
// for its key's rate), running, cancelling, settling, then the slow steps
// of a settlement (recording its final record, following its follow-ups,
// filing its dead-letter record, confirming its acknowledgement) and
// released. The runner, the heartbeat that abandons a handler past its
// deadline, a forced stop and the cancel watch race for a task through
// that one state, so a task is settled exactly once whatever the race, and
// whoever settles it lets it go. A move the table does not allow is a bug
// in the worker, refused and logged at Error.
//
// # Stopping
//
// Cancelling Run's ctx, or [Worker.Shutdown], stops pulling and lets running
// handlers and tasks already queued finish; at the deadline their ctx is
// cancelled and their tasks go back to the queue at once, for another
// worker. Deliveries that reach the worker after it stopped pulling (the
// server may have sent them as the stop began) are taken in like those
// before: none is lost to wait out its ack wait, and none pays an attempt
// for the stop. Waiting for the server to end the open pulls adds up to a
// second to the stop.
//
// See the package examples.
package consumer
