// Package deadletter files dead-letter records, for the worker and for the
// forwarder alike.
//
// # Records always fit
//
// A record keeps the task's headers and body and adds the failure's. When
// that does not fit the server's limits (a 64 KiB header block, max_payload
// in all), [wire.DeadLetter] truncates the record and the [Filer] stores the
// whole original in the JETQ_DLQ_ORIGINALS object store first, under the
// record's identity; a replay restores it from there exactly.
//
// # One record per delivery
//
// The record's Nats-Msg-Id is [wire.RecordID], derived from the work
// stream's name, the message's sequence and the time the stream stored it,
// so the worker's and the forwarder's filings of one delivery collapse into
// one record, and a recreated work stream's reused sequences do not. A
// duplicate acknowledgement is trusted only after the stored record is read
// back and found to be the same one.
//
// # Finding a record
//
// [Filer.Filed] tells a worker whether a redelivered task was dead-lettered
// already, by its record's identity, reading the records of the task's
// type filed since the task was stored.
package deadletter
