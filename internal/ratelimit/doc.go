// Package ratelimit counts task starts on the server, for the rate limits of
// task definitions (tasks.WithRateLimit, tasks.WithKeyRateLimit).
//
// # Counting
//
// Each limit counts in fixed windows aligned to the Unix epoch: window i of
// a limit of n per d is [i·d, (i+1)·d). Its count is a counter subject
// (nats-server 2.12 counters) of the rate stream, one subject per task
// type and window, or per task type, key and window. A worker asks for k
// starts by adding k to the subject (header Nats-Incr); the server answers
// with the new total t, and the worker was granted what of its k the
// total left within n: min(k, max(0, n-(t-k))). Every request is one
// round trip without conflicts, however many workers ask at once, and the
// grants of one window sum to at most n. A request refused, in part or
// whole, still adds to the count, which only makes later requests of the
// same window refused too: nothing is taken back.
//
// A window's subject is never written again after its window. The stream
// keeps one message per subject and drops it after [MaxAge], longer than
// the longest interval: the rate stream holds at most one small message
// per start of the last hour.
//
// # Waiting
//
// [Gate] hands out the starts of one task type to the pulls of one worker,
// asking the server in the background and waking the puller when it has
// starts or a new window begins. [Keyed] holds tasks over their key's
// limit until a window grants them a start, one request per key and
// window for all the tasks of the key that wait.
package ratelimit
