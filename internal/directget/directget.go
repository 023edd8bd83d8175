package directget

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Msg is a message read by a direct get.
type Msg struct {
	Seq     uint64
	Subject string
	Stored  time.Time
	Header  nats.Header
	Data    []byte
}

// Request is the server's JSApiMsgGetRequest, the fields used here: the
// first message at or after Seq (or, if set, stored at or after
// StartTime) on NextFor, and up to Batch of them, MaxBytes in all.
type Request struct {
	Seq       uint64     `json:"seq,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
	NextFor   string     `json:"next_by_subj"`
	Batch     int        `json:"batch"`
	MaxBytes  int        `json:"max_bytes"`
}

// NumPendingHeader is the header of the end of a batch that says how many
// messages on the subject follow.
const NumPendingHeader = "Nats-Num-Pending"

// Batch asks stream for req's messages. more reports that messages on the
// subject may follow the last one returned.
func Batch(ctx context.Context, js jetstream.JetStream, stream string, req Request) (msgs []Msg, more bool, err error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, false, err
	}
	nc := js.Conn()
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, false, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(APIPrefix(js)+"DIRECT.GET."+stream, inbox, body); err != nil {
		return nil, false, err
	}
	ctx, cancel := WithTimeout(ctx, js)
	defer cancel()
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, false, err
		}
		if status := m.Header.Get("Status"); status != "" && len(m.Data) == 0 {
			switch status {
			case "204": // end of the batch
				pending, _ := strconv.ParseUint(m.Header.Get(NumPendingHeader), 10, 64)
				return msgs, pending > 0, nil
			case "404": // nothing (more) on subject
				return msgs, false, nil
			case "503":
				return nil, false, nats.ErrNoResponders
			}
			return nil, false, fmt.Errorf("status %s: %s", status, m.Header.Get("Description"))
		}
		msg, err := read(m)
		if err != nil {
			return nil, false, err
		}
		msgs = append(msgs, msg)
	}
}

// read reads a message of a direct get batch.
func read(m *nats.Msg) (Msg, error) {
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return Msg{}, fmt.Errorf("bad %s header: %w", jetstream.SequenceHeader, err)
	}
	stored, err := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
	if err != nil {
		return Msg{}, fmt.Errorf("bad %s header: %w", jetstream.TimeStampHeaer, err)
	}
	return Msg{Seq: seq, Subject: m.Header.Get(jetstream.SubjectHeader), Stored: stored, Header: m.Header, Data: m.Data}, nil
}

// APIPrefix is the prefix of js's API subjects, domain or custom prefix
// included, with its trailing dot.
func APIPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	case o.APIPrefix != "" && o.APIPrefix[len(o.APIPrefix)-1] == '.':
		return o.APIPrefix
	case o.APIPrefix != "":
		return o.APIPrefix + "."
	}
	return jetstream.DefaultAPIPrefix
}

// WithTimeout gives ctx js's default API timeout unless it has a deadline.
func WithTimeout(ctx context.Context, js jetstream.JetStream) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, js.Options().DefaultTimeout)
}
