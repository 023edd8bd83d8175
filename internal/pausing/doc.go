// Package pausing keeps the pauses of task types, queues and every queue,
// and applies them to the task types' durable consumers, where the server
// enforces them (PauseUntil, server 2.11).
//
// # Records and consumers
//
// Each pause is a record in the bucket [wire.PauseBucketConfig]: "all",
// "queue.<queue>" or "task.<queue>.<task>", holding the time it ends (none:
// until resumed). A consumer's PauseUntil is what the records over it say:
// the latest end among the record of its type, of its queue and of every
// queue, [Forever] for one without an end. The records are the truth; the
// consumers follow them. A worker reads them when it creates a consumer,
// so a queue's pause also holds for a task type deployed later, and the
// server keeps a consumer's PauseUntil when a worker updates it (the
// create request's PauseUntil counts only for a new consumer).
//
// # Races
//
// Whoever writes a record applies it afterwards to the consumers it covers
// ([Store.Apply]), and every apply reads the records again after it has
// set a consumer, and sets it again if they changed meanwhile. The last
// consumer update is therefore made from records no older than the last
// record write, whatever the order of concurrent pauses, resumes and
// worker starts.
package pausing
