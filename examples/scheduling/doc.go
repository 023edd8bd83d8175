// Command scheduling shows jetq's tasks that run later, on a schedule, until
// a deadline, or once at a time, all kept and fired by the embedded
// server's own scheduler. It runs to the end by itself in a few seconds:
//
//	go run ./examples/scheduling
//
// It enqueues a delayed task and a cancelled one, declares a periodic task
// from two "instances" (one tick, one run), lets a task expire, and
// enqueues a unique task three times.
package main
