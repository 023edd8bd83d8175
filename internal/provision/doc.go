// Package provision makes on the server what a [topology.Topology] asks
// for: the work, schedule, dead-letter and events streams, created when
// missing and checked when they exist, with the retries and the log lines
// that go with it, and the key-value buckets of jetq's stores. What each stream, bucket and consumer is configured as,
// and what everything is named, is part of the wire format and lives in
// internal/wire; this package only talks to the server.
//
// # Provisioning
//
// [Streams] is the one provisioning loop of producers, workers, forwarders
// and schedules: it runs [Ensure] and tries again while the server cannot
// answer yet. A stream that exists is used as it is, with a warning where
// it differs from what was asked; one that would break a guarantee (a work
// stream that evicts queued tasks, a dead-letter stream that drops
// records) is an error saying what to do.
//
// # Buckets
//
// A [Bucket] is how every store opens its key-value bucket: looked up on
// first use, created when missing, used as the server has it when it
// exists.
package provision
