package retry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cause says why a JetStream request failed, as far as trying it again is
// concerned. [Classify] gives it; it is the one place that reads error codes.
type Cause int

const (
	// Final: a later try gets the same answer; the caller must act.
	Final Cause = iota
	// NoRoom: the stream is at its DiscardNew limits, or the server short of
	// storage. Nothing was stored; a try once consumers caught up may succeed.
	NoRoom
	// NoQuorum: the stream's leader holds an earlier try with the same
	// Nats-Msg-Id that it cannot commit (409, err_code 10158, "duplicate
	// message id is in process"): a leader cut off from its peers answers so
	// until it steps down. Nothing is stored yet; the earlier try is stored
	// only if the leader's peers come back before it steps down, and then a
	// retry with the same ID gets its acknowledgement. The server's own MQTT
	// code sends again in this case (nats-server mqtt.go).
	NoQuorum
	// Unavailable: nobody answered for the stream (no responders), or the
	// cluster said it cannot serve the request now (503; 500 err_code 10009,
	// "JetStream cluster can not handle request"): a leader election, or a
	// server cut off from the stream's peers. The request had no effect.
	Unavailable
	// NoAnswer: no reply came in time, or the connection dropped while the
	// request was out. The request may or may not have taken effect.
	NoAnswer
)

// Classify says why err happened. Errors that no JetStream request returns
// are [Final].
func Classify(err error) Cause {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch {
		case full(apiErr):
			return NoRoom
		case apiErr.ErrorCode == errCodeMsgIDInProcess:
			return NoQuorum
		case apiErr.ErrorCode == jetstream.JSErrCodeJetStreamNotEnabled,
			apiErr.ErrorCode == jetstream.JSErrCodeJetStreamNotEnabledForAccount:
			return Final
		case apiErr.Code == 503, apiErr.ErrorCode == errCodeClusterNotLeader:
			return Unavailable
		}
		return Final
	}
	switch {
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse):
		return Unavailable
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrReconnectBufExceeded),
		errors.Is(err, jetstream.ErrAsyncPublishTimeout),
		errors.Is(err, jetstream.ErrTooManyStalledMsgs): // nothing was sent: the async window was full
		return NoAnswer
	}
	return Final
}

// Error codes nats.go has no name for (nats-server's errors.json).
const (
	errCodeMsgIDInProcess   = 10158 // JSStreamDuplicateMessageConflict, code 409
	errCodeClusterNotLeader = 10009 // JSClusterNotLeaderErr, code 500
)

// Transient reports errors that a later try may not see: timeouts, nobody
// answering, a dropped connection, a cluster without a leader or quorum,
// and a leader that cannot commit an earlier try of the same message. A
// server without JetStream, and a server short of storage, are not
// transient: the caller must act.
func Transient(err error) bool {
	switch Classify(err) {
	case NoQuorum, Unavailable, NoAnswer:
		return true
	}
	return false
}

// full reports a stream or server that refuses messages for lack of room.
func full(e *jetstream.APIError) bool {
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
