package consumer

// Log attribute keys, one vocabulary for every line the worker writes.
const (
	keyTask     = "task"
	keyQueue    = "queue"
	keyID       = "task_id"
	keyAttempt  = "attempt"
	keyMax      = "max_attempts"
	keyDelay    = "delay"
	keyReason   = "reason"
	keyError    = "error"
	keyConsumer = "consumer"
	keyStream   = "stream"
	keySeq      = "seq"
	keyStack    = "stack"
	keyCount    = "count"
	keyRecord   = "record_seq" // a dead-letter record's sequence
)
