package inspect

// Log attribute keys.
const (
	keyTaskID = "task_id"
	keyTask   = "task"
	keyQueue  = "queue"
	keySeq    = "seq"
	keyError  = "error"
	keyAction = "action"
)
