package producer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pubAck is what the server answers to a stored (or deduplicated) publish.
type pubAck struct {
	stream    string
	seq       uint64
	duplicate bool
}

// errInvalidAck is wrapped by errors about an answer that is no publish
// acknowledgement.
var errInvalidAck = jetstream.ErrInvalidJSAck

// readAck reads the server's answer m to a publish to a stream expected to
// be want. It reads the common form, {"stream":"<want>","seq":N} with an
// optional "domain" and "duplicate":true, without reflection or allocation;
// anything else goes through encoding/json. A server error is returned as
// the *jetstream.APIError it carries, and no responders as
// jetstream.ErrNoStreamResponse.
func readAck(m *nats.Msg, want string) (pubAck, error) {
	if len(m.Data) == 0 {
		if m.Header.Get(statusHeader) == noResponders {
			return pubAck{}, fmt.Errorf("%w: %w", jetstream.ErrNoStreamResponse, nats.ErrNoResponders)
		}
		return pubAck{}, errInvalidAck
	}
	if a, ok := quickAck(m.Data, want); ok {
		return a, nil
	}
	var resp struct {
		Error     *jetstream.APIError `json:"error"`
		Stream    string              `json:"stream"`
		Seq       uint64              `json:"seq"`
		Duplicate bool                `json:"duplicate"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return pubAck{}, fmt.Errorf("%w: %w", errInvalidAck, err)
	}
	if resp.Error != nil {
		return pubAck{}, resp.Error
	}
	if resp.Stream == "" {
		return pubAck{}, errInvalidAck
	}
	return pubAck{stream: resp.Stream, seq: resp.Seq, duplicate: resp.Duplicate}, nil
}

// statusHeader carries the status of a reply without a body.
const statusHeader = "Status"

// noResponders is the status of a request nobody subscribes to: here, a
// subject no stream captures.
const noResponders = "503"

// quickAck parses the acknowledgement nats-server writes for a message
// stored on stream want — {"stream":"<want>","seq":N}, with
// "domain":"<d>" before the sequence when the server has a domain, and
// "duplicate": true after it for a duplicate — with ok false for anything
// else.
func quickAck(b []byte, want string) (a pubAck, ok bool) {
	rest, ok := cut(b, `{"stream":"`)
	if !ok {
		return a, false
	}
	if rest, ok = cut(rest, want); !ok {
		return a, false
	}
	if rest, ok = cut(rest, `"`); !ok {
		return a, false
	}
	if r, ok := cut(rest, `,"domain":"`); ok {
		end := bytes.IndexByte(r, '"')
		if end < 0 || bytes.IndexByte(r[:end], '\\') >= 0 {
			return a, false
		}
		rest = r[end+1:]
	}
	if rest, ok = cut(rest, `,"seq":`); !ok {
		return a, false
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	seq, err := strconv.ParseUint(string(rest[:n]), 10, 64) // the conversion does not allocate
	if n == 0 || err != nil {
		return a, false
	}
	a.stream, a.seq, rest = want, seq, rest[n:]
	if r, ok := cut(rest, `,"duplicate": true`); ok {
		a.duplicate, rest = true, r
	} else if r, ok := cut(rest, `,"duplicate":true`); ok {
		a.duplicate, rest = true, r
	}
	return a, string(rest) == "}"
}

// cut returns b without prefix, and whether b began with it.
func cut(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return b, false
	}
	return b[len(prefix):], true
}

// isNoResponders reports an error meaning no stream answered.
func isNoResponders(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse)
}
