// Package e2e holds black-box scenarios across packages and processes: a
// replicated cluster losing its stream leader, real nats-server processes
// killed, frozen and restarted under a fleet of worker processes, a stream
// leader cut off from its peers with its producer (every route through a
// proxy in the test that holds them silent or resets them), and a single
// node restarted with tasks on disk. Every scenario ends with a full
// accounting: each enqueued task ID was handled at least once or sits in the
// dead-letter stream; none is missing, and duplicates are counted.
//
// The scenarios of results and workflows (issue 26) run e2eworker -flow
// processes: chords whose callbacks run once with every member's result
// while a worker and the workflow bucket's leader are killed
// (JETQ_E2E_CHORDS sets their number), a chain of typed results stopped by
// a dead letter and finished by its replay, inspect.Result woken in
// another process than the worker (JETQ_E2E_RESULTS), and group enqueues
// that are all or nothing. They print the figures the issue asks for.
//
// The multi-process scenarios run the nats-server binaries that test.sh
// installs into $(go env GOPATH)/nats-server-<version>/: the version in
// go.mod, and v2.11.9, the oldest jetq runs on. Without them a scenario
// fails and names test.sh.
package e2e
