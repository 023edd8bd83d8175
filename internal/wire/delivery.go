package wire

import (
	"math"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Delivery is what the server says about one delivery of a message, in the
// reply subject it delivers the message with.
type Delivery struct {
	Stream, Consumer string
	// NumDelivered counts this delivery: 1 the first time.
	NumDelivered uint64
	// StreamSeq is the message's sequence in its stream.
	StreamSeq uint64
	// Timestamp is when the stream stored the message.
	Timestamp time.Time
	// Pending is how many messages the consumer had left to deliver.
	Pending uint64
}

// ReadDelivery reads the delivery information of msg. It reads the reply
// subject in place, as [jetstream.Msg.Metadata] would but without building
// its result on the heap, and leaves to Metadata any form it does not know.
// It returns Metadata's error for a message that is not a JetStream delivery.
func ReadDelivery(msg jetstream.Msg) (Delivery, error) {
	if d, ok := parseAckReply(msg.Reply()); ok {
		return d, nil
	}
	md, err := msg.Metadata()
	if err != nil {
		return Delivery{}, err
	}
	return Delivery{Stream: md.Stream, Consumer: md.Consumer, NumDelivered: md.NumDelivered,
		StreamSeq: md.Sequence.Stream, Timestamp: md.Timestamp, Pending: md.NumPending}, nil
}

// parseAckReply reads the two forms of reply subject a server delivers with:
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>
//	$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>[.<token>...]
func parseAckReply(reply string) (Delivery, bool) {
	const prefix = "$JS.ACK."
	rest, ok := strings.CutPrefix(reply, prefix)
	if !ok {
		return Delivery{}, false
	}
	var tokens [12]string
	n := 0
	for n < len(tokens) {
		tok, after, more := strings.Cut(rest, ".")
		tokens[n] = tok
		n++
		if !more {
			break
		}
		rest = after
	}
	var t []string
	switch {
	case n == 7:
		t = tokens[:7]
	case n >= 9:
		t = tokens[2:9] // after the domain and the account hash
	default:
		return Delivery{}, false
	}
	delivered, ok1 := parseUint(t[2])
	sseq, ok2 := parseUint(t[3])
	ns, ok3 := parseUint(t[5])
	pending, ok4 := parseUint(t[6])
	if !ok1 || !ok2 || !ok3 || !ok4 || ns > math.MaxInt64 || t[0] == "" || t[1] == "" {
		return Delivery{}, false
	}
	return Delivery{Stream: t[0], Consumer: t[1], NumDelivered: delivered, StreamSeq: sseq,
		Timestamp: time.Unix(0, int64(ns)), Pending: pending}, true
}

// parseUint reads a decimal number of at most 19 digits.
func parseUint(s string) (uint64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}
