// Package dlq files the dead-letter records of the tasks the server gave
// up on: its [Forwarder] is the safety net behind the workers. Records are
// read, replayed and removed through the inspect package.
//
// # How tasks get here
//
// A worker files the record itself when a handler fails for good:
// permanent errors, invalid payloads, timeouts and failures on the last
// attempt. When the worker cannot — it died or hung on the last attempt —
// the server keeps the task and publishes a max-deliveries advisory, which
// the JETQ_EVENTS stream keeps until a [Forwarder] files the record with
// reason max_deliveries. Run one or more next to the workers, or let the
// workers run it (consumer.WithForwarder): forwarders share their work, and
// the two paths never file one task twice. A forwarder files the tasks of
// every type, including types no worker serves any more.
//
// # Records always fit
//
// A record keeps the task's payload and headers and adds the failure. When
// that would not fit the server's limits (a 64 KiB header block, the
// max_payload in all), the record is truncated: it keeps the headers that
// identify and trace the task, the payload if it fits, and points to the
// whole original, stored in the JETQ_DLQ_ORIGINALS object store for as long
// as records are kept (inspect.DeadLetter.Truncated). Reading a record
// (inspect.Inspector.DeadLetter) and replaying it restore the original
// exactly. A record that cannot be stored yet (the
// stream is down or was deleted) is tried again; the task is never run
// again, nor given another reason, because of it.
//
// # Inspecting and replaying
//
//	in, err := inspect.New(js)
//	records, err := in.DeadLetters(ctx, inspect.DeadLetterFilter{Task: "email.send"})
//	err = in.ReplayDeadLetter(ctx, records[0].Seq) // back to its queue as a fresh task, same ID
//
// The `jetq dlq` commands are built on inspect. See the example of this
// package and the program in examples/dlq.
package dlq
