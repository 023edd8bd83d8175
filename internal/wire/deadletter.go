package wire

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/tasks"
)

// Failure is what a dead-letter record says about the task it keeps.
type Failure struct {
	// Reason is why the task was dead-lettered.
	Reason tasks.Reason
	// Error is the last error's text, at most [MaxErrorLen] bytes.
	Error string
	// Stream, Seq and Subject locate the original message.
	Stream  string
	Seq     uint64
	Subject string
	// Deliveries is how often the message was delivered.
	Deliveries int
	// At is when the record was filed.
	At time.Time
}

// DeadLetter builds the dead-letter record of the task message with subject,
// header and data that failed as f says. The record keeps the body and the
// headers, drops the server-interpreted Nats-* ones, makes sure Jetq-Id holds
// the task ID, and sets Nats-Msg-Id to [RecordID] so a second filing of the
// same message is dropped as a duplicate.
func DeadLetter(n Names, queue, name string, h nats.Header, data []byte, f Failure) *nats.Msg {
	out := make(nats.Header, len(h)+8)
	for k, v := range h {
		if strings.HasPrefix(k, "Nats-") {
			continue
		}
		out[k] = v
	}
	out[HeaderID] = []string{TaskID(tasks.Header(h), f.Stream, f.Seq)}
	out[HeaderMsgID] = []string{RecordID(f.Stream, f.Seq)}
	out[HeaderDLQReason] = []string{string(f.Reason)}
	out[HeaderDLQError] = []string{headerSafe(f.Error, MaxErrorLen)}
	out[HeaderDLQStream] = []string{f.Stream}
	out[HeaderDLQSeq] = []string{strconv.FormatUint(f.Seq, 10)}
	out[HeaderDLQSubject] = []string{f.Subject}
	out[HeaderDLQDeliveries] = []string{strconv.Itoa(f.Deliveries)}
	out[HeaderDLQAt] = []string{FormatTime(f.At)}
	return &nats.Msg{Subject: n.DLQSubject(queue, name), Header: out, Data: data}
}

// ParseFailure reads the failure a dead-letter record's header describes.
func ParseFailure(h nats.Header) (Failure, error) {
	f := Failure{
		Reason:  tasks.Reason(h.Get(HeaderDLQReason)),
		Error:   h.Get(HeaderDLQError),
		Stream:  h.Get(HeaderDLQStream),
		Subject: h.Get(HeaderDLQSubject),
	}
	if f.Reason == "" {
		return f, fmt.Errorf("%w: no %s header", ErrMalformed, HeaderDLQReason)
	}
	var err error
	if f.Seq, err = strconv.ParseUint(h.Get(HeaderDLQSeq), 10, 64); err != nil {
		return f, fmt.Errorf("%w: %s: %w", ErrMalformed, HeaderDLQSeq, err)
	}
	if f.Deliveries, err = strconv.Atoi(h.Get(HeaderDLQDeliveries)); err != nil {
		return f, fmt.Errorf("%w: %s: %w", ErrMalformed, HeaderDLQDeliveries, err)
	}
	if f.At, err = ParseTime(h.Get(HeaderDLQAt)); err != nil {
		return f, fmt.Errorf("%w: %s: %w", ErrMalformed, HeaderDLQAt, err)
	}
	return f, nil
}

// headerSafe makes s fit a NATS header value: line breaks become spaces (a
// stack trace would otherwise end the header block) and it is cut to at most
// limit bytes on a rune boundary.
func headerSafe(s string, limit int) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r\n", " | ", "\n", " | ", "\r", " ").Replace(s)
	}
	if len(s) <= limit {
		return s
	}
	const mark = "…"
	cut := limit - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
