// Package e2e holds black-box scenarios across packages and processes: a
// replicated cluster losing its stream leader, real nats-server processes
// killed, frozen and restarted under a fleet of worker processes, a stream
// leader cut off from its peers with its producer (every route through a
// proxy in the test that holds them silent or resets them), and a single
// node restarted with tasks on disk. Every scenario ends with a full
// accounting: each enqueued task ID was handled at least once or sits in the
// dead-letter stream; none is missing, and duplicates are counted.
//
// The multi-process scenarios run the nats-server binaries that test.sh
// installs into $(go env GOPATH)/nats-server-<version>/: the version in
// go.mod, and v2.11.9, the oldest jetq runs on. Without them a scenario
// fails and names test.sh.
package e2e
