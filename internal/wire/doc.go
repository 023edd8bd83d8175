// Package wire is the one home of jetq's wire format, version 1: header names,
// the subject layout, stream and consumer names and configurations, the
// envelope ⇄ NATS message mapping, the dead-letter record and task IDs.
// Producer, consumer and dlq share it and never import each other.
//
// Golden files under testdata freeze the format; a change that breaks them is
// a change of wire version.
package wire
