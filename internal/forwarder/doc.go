// Package forwarder is the dead-letter safety net: it turns the server's
// max-deliveries advisories, kept by the events stream, into dead-letter
// records. It serves dlq.Forwarder and the worker's consumer.WithForwarder,
// which may not import each other.
//
// For a task whose every delivery went unanswered (its worker crashed or
// hung on the last attempt) the server keeps the message in the work stream
// and advises. The forwarder reads the message back by its sequence, files
// a record with reason max_deliveries, deletes the message, and only then
// acknowledges the advisory. Every step is idempotent: the record's
// Nats-Msg-Id is "<stream>:<seq>", the same the worker uses, so the
// dead-letter stream's deduplication keeps one record per task whichever
// path files it and however often a crash makes a step run again — as long
// as the second filing comes within the dead-letter stream's duplicates
// window (an hour) of the first.
//
// All forwarders share one durable consumer on the events stream, so any
// number may run; each event goes to one of them at a time.
package forwarder
