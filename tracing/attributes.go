package tracing

import (
	"context"
	"errors"
	"net"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/jetq/jetq/tasks"
)

// Attributes the messaging conventions leave to each system: NATS defines
// none yet, so these follow the messaging.{system} pattern.
const (
	keyStream     = attribute.Key("messaging.nats.stream")
	keySequence   = attribute.Key("messaging.nats.stream.sequence")
	keyDeliveries = attribute.Key("messaging.nats.delivery_count")
	keyDuplicate  = attribute.Key("messaging.nats.duplicate")
)

// jetq's own attributes.
const (
	keyTask        = attribute.Key("jetq.task.name")
	keyQueue       = attribute.Key("jetq.task.queue")
	keyAttempt     = attribute.Key("jetq.task.attempt")
	keyMaxAttempts = attribute.Key("jetq.task.max_attempts")
	keyRetry       = attribute.Key("jetq.task.retry")
	keyOutcome     = attribute.Key("jetq.outcome")
	keyDelay       = attribute.Key("jetq.retry.delay")
	keyReason      = attribute.Key("jetq.dead_letter.reason")
	keyReplayOf    = attribute.Key("jetq.replay_of")
)

// systemNATS is messaging.system: semconv v1.43.0 has no constant for NATS.
var systemNATS = semconv.MessagingSystemKey.String("nats")

// appendServer appends to attrs the server.address and server.port of addr,
// the host:port of the NATS server in tasks.Envelope.Server; nothing when
// addr is empty or not host:port.
func appendServer(attrs []attribute.KeyValue, addr string) []attribute.KeyValue {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return attrs
	}
	attrs = append(attrs, semconv.ServerAddress(host))
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	return attrs
}

// Operation names, which for NATS are the operation types.
const (
	opSend    = "send"
	opCreate  = "create"
	opProcess = "process"
)

// errorType classifies err for error.type, which must stay low-cardinality:
// jetq's own failure kinds first, then whatever semconv.ErrorType makes of
// it (an ErrorType method in the chain, else the Go type name).
func errorType(err error) attribute.KeyValue {
	var (
		pe *tasks.PanicError
		re *tasks.RetryAfterError
	)
	switch {
	case errors.Is(err, tasks.ErrInvalidPayload):
		return semconv.ErrorTypeKey.String(string(tasks.ReasonInvalidPayload))
	case errors.Is(err, tasks.ErrInvalidResult):
		return semconv.ErrorTypeKey.String(string(tasks.ReasonInvalidResult))
	case tasks.IsPermanent(err):
		return semconv.ErrorTypeKey.String(string(tasks.ReasonPermanent))
	case errors.As(err, &pe):
		return semconv.ErrorTypeKey.String("panic")
	case errors.Is(err, context.DeadlineExceeded):
		return semconv.ErrorTypeKey.String(string(tasks.ReasonTimeout))
	case errors.Is(err, context.Canceled):
		return semconv.ErrorTypeKey.String("canceled")
	case errors.As(err, &re):
		return semconv.ErrorTypeKey.String("retry_after")
	}
	return semconv.ErrorType(err)
}
