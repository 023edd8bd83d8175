// Command dlq walks a task through the dead-letter stream and back: it fails
// every attempt while its mail server is down and is dead-lettered with the
// reason; an operator inspects the record, fixes the cause and replays the
// task, which then succeeds. The same steps work from the command line with
// `jetq dlq ls`, `jetq dlq show` and `jetq dlq replay`.
//
//	go run ./examples/dlq
package main
