package wire

// Version is the wire format version this package reads and writes.
const Version = "1"

// Header names of a task message.
const (
	HeaderMsgID       = "Nats-Msg-Id"
	HeaderID          = "Jetq-Id"
	HeaderTask        = "Jetq-Task"
	HeaderQueue       = "Jetq-Queue"
	HeaderEnqueuedAt  = "Jetq-Enqueued-At"
	HeaderVersion     = "Jetq-Version"
	HeaderContentType = "Content-Type"
	// HeaderReplayOf marks a task replayed from the dead-letter stream with
	// the record it came from; tracing.ReplayHeader names it too.
	HeaderReplayOf = "Jetq-Replay-Of"
)

// Header names a dead-letter record adds to the original message's.
const (
	HeaderDLQReason     = "Jetq-Dlq-Reason"
	HeaderDLQError      = "Jetq-Dlq-Error"
	HeaderDLQStream     = "Jetq-Dlq-Stream"
	HeaderDLQSeq        = "Jetq-Dlq-Seq"
	HeaderDLQSubject    = "Jetq-Dlq-Subject"
	HeaderDLQDeliveries = "Jetq-Dlq-Deliveries"
	HeaderDLQAt         = "Jetq-Dlq-At"
	// HeaderDLQOriginal marks a truncated record: the original message did
	// not fit beside the failure and is stored under this name in the
	// dead-letter objects bucket.
	HeaderDLQOriginal = "Jetq-Dlq-Original"
)

// TimeFormat is the layout of time headers: RFC 3339 with nanoseconds, UTC.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// MaxErrorLen bounds the error text kept in a dead-letter record.
const MaxErrorLen = 4096
