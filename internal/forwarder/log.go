package forwarder

// Log attribute keys; the worker's vocabulary where the two overlap.
const (
	keyTask       = "task"
	keyQueue      = "queue"
	keyID         = "task_id"
	keySeq        = "seq"
	keyStream     = "stream"
	keySubject    = "subject"
	keyConsumer   = "consumer"
	keyReason     = "reason"
	keyDeliveries = "deliveries"
	keyDelay      = "delay"
	keyError      = "error"
)
