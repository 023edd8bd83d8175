// Package wire is the one home of jetq's wire format, version 1: header names,
// the subject layout, stream and consumer names and configurations, the
// envelope ⇄ NATS message mapping, the dead-letter record, task IDs and the
// periodic schedules from which fired tasks' IDs derive. Producer, consumer
// and dlq share it and never import each other. It does no I/O: creating
// what it configures is internal/provision's.
//
// Golden files under testdata freeze the format; a change that breaks them is
// a change of wire version.
package wire
