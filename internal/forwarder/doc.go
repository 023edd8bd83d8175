// Package forwarder is the dead-letter safety net: it turns the server's
// max-deliveries advisories, kept by the events stream, into dead-letter
// records. It serves dlq.Forwarder and the worker's consumer.WithForwarder,
// which may not import each other.
//
// For a task whose every delivery went unanswered (its worker crashed or
// hung on the last attempt) the server keeps the message in the work stream
// and advises. The forwarder reads the message back by its sequence, files
// a record with reason max_deliveries, deletes the message, and only then
// acknowledges the advisory; a tracked task's status becomes dead_lettered
// on the way, and a task type with a retention (recorded in its durable's
// metadata) gets its final record, made if the task had none. Every step
// is idempotent: the record's Nats-Msg-Id is
// "<stream>:<seq>:<stored at>", the same the worker uses, so the
// dead-letter stream's deduplication keeps one record per task whichever
// path files it and however often a crash makes a step run again — as long
// as the second filing comes within the dead-letter stream's duplicates
// window (an hour) of the first. Filing goes through the deadletter
// package, as the worker's does: records always fit.
//
// All forwarders share one durable consumer on the events stream, so any
// number may run; each event goes to one of them at a time.
//
// # The waiting pull
//
// The server sends a max-deliveries advisory for a task allowed two or more
// deliveries only while a pull waits on the task's durable (see
// sentinel.go). So each forwarder keeps, on every task durable of the work
// stream, a pull that can never take a task. A task whose last worker died
// is then filed about an ack wait later whether or not any worker of its
// type still runs.
package forwarder
