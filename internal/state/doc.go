// Package state records the [tasks.Status] of tracked tasks in a JetStream
// key-value bucket: the producer writes "queued", the worker "running" and
// then what the settlement made of the attempt. The status package reads it.
package state
