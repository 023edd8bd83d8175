// Command quickstart runs jetq end to end in one process, with nothing
// installed: an embedded NATS server, a producer that enqueues a batch of
// tasks, and a worker that runs them — including a task that fails twice
// before it succeeds and one that is permanently bad and lands in the
// dead-letter stream with its reason. It prints a summary and exits.
//
//	go run ./examples/quickstart
package main
