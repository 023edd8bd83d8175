// Package e2e holds black-box scenarios across packages and processes: a
// replicated cluster losing its stream leader, real nats-server processes
// killed, frozen and restarted under a fleet of worker processes, a stream
// leader cut off from its peers with its producer (every route through a
// proxy in the test that holds them silent or resets them), and a single
// node restarted with tasks on disk. Every scenario ends with a full
// accounting: each enqueued task ID was handled at least once or sits in the
// dead-letter stream; none is missing, and duplicates are counted.
//
// The multi-process scenarios run the nats-server binary from PATH (CI
// installs v2.15.2 with go install) or, when there is none, builds the one
// this module depends on.
package e2e
