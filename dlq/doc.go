// Package dlq is the operator's half of dead-lettering: a [Forwarder] that
// turns tasks the server gave up on into dead-letter records, and an
// [Inspector] that lists, shows, replays and removes records.
//
// # How tasks get here
//
// A worker files the record itself when a handler fails for good:
// permanent errors, invalid payloads, the last attempt. When the worker
// cannot — it died or hung on the last attempt — the server keeps the task
// and publishes a max-deliveries advisory, which the JETQ_EVENTS stream
// keeps until a [Forwarder] files the record with reason max_deliveries. Run
// one per worker host, or let the worker run it (consumer.WithForwarder):
// forwarders share their work, and the two paths never file one task twice.
//
// # Inspecting and replaying
//
//	in, err := dlq.NewInspector(js)
//	entries, err := in.List(ctx, dlq.Filter{Task: "email.send", Reason: tasks.ReasonMaxAttempts})
//	err = in.Replay(ctx, entries[0].Seq) // back to its queue as a fresh task, same ID
//
// The `jetq dlq` commands are built on the Inspector. See the package
// examples.
package dlq
