package retry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Transient reports errors that a later try may not see: timeouts, nobody
// answering, a dropped connection, a cluster without a leader or quorum
// (503). A server without JetStream, and a server short of storage, are not
// transient: the caller must act.
func Transient(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == 503 && apiErr.ErrorCode != jetstream.JSErrCodeJetStreamNotEnabled &&
			apiErr.ErrorCode != jetstream.JSErrCodeJetStreamNotEnabledForAccount &&
			!Full(apiErr)
	}
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrReconnectBufExceeded) ||
		errors.Is(err, jetstream.ErrAsyncPublishTimeout) ||
		errors.Is(err, jetstream.ErrTooManyStalledMsgs) // nothing was sent: the async window was full
}

// Full reports a stream or server that refuses messages for lack of room.
func Full(e *jetstream.APIError) bool {
	switch e.ErrorCode {
	case 10047, 10023: // insufficient storage / resources on the server
		return true
	case 10077: // store failed: the DiscardNew limits say why
		return strings.Contains(e.Description, "maximum messages") || strings.Contains(e.Description, "maximum bytes")
	}
	return false
}

// Gone reports a failure to read or delete a stream message because it is
// not there.
func Gone(err error) bool {
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return true
	}
	s := err.Error()
	return errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) &&
		(strings.Contains(s, "no message found") || strings.Contains(s, fmt.Sprintf("err_code=%d", jetstream.JSErrCodeMessageNotFound)) ||
			strings.Contains(s, "err_code=10043")) // sequence not found
}
