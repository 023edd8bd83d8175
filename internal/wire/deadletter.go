package wire

import (
	"encoding/json"
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
	// StoredAt is when the work stream stored the original message. With
	// Stream and Seq it makes the record's identity (see [RecordID]); it is
	// not a header of its own.
	StoredAt time.Time
	// Deliveries is how often the message was delivered.
	Deliveries int
	// At is when the record was filed.
	At time.Time
}

// RecordID is the Nats-Msg-Id of the dead-letter record of the message that
// stream stored at seq at time stored: "<stream>:<seq>:<stored, Unix ns>".
// The worker and the forwarder both derive it from the same delivery, so the
// dead-letter stream's deduplication keeps one record per message. The
// stored time keeps it unique when a work stream is recreated and its
// sequences start at 1 again.
func RecordID(stream string, seq uint64, stored time.Time) string {
	return stream + ":" + strconv.FormatUint(seq, 10) + ":" + strconv.FormatInt(stored.UnixNano(), 10)
}

// MaxHeaderBytes is the largest header block the server stores (err 10097
// beyond it).
const MaxHeaderBytes = 65535

// Limits are the sizes a message must keep to be stored. The zero Limits
// bounds the header block by [MaxHeaderBytes] and nothing else.
type Limits struct {
	// Header bounds the encoded header block; 0 or more than
	// MaxHeaderBytes means MaxHeaderBytes.
	Header int
	// Payload bounds header block and body together: the server's
	// max_payload. 0 means unbounded.
	Payload int
}

func (l Limits) fits(h nats.Header, body int) bool {
	hl := l.Header
	if hl <= 0 || hl > MaxHeaderBytes {
		hl = MaxHeaderBytes
	}
	n := HeaderSize(h)
	return n <= hl && (l.Payload <= 0 || n+body <= l.Payload)
}

// HeaderSize is the size of h encoded as a NATS header block.
func HeaderSize(h nats.Header) int {
	if len(h) == 0 {
		return 0
	}
	n := len("NATS/1.0\r\n") + len("\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}

// keptHeaders are what a truncated record keeps of the original's headers:
// what identifies and traces the task.
var keptHeaders = []string{
	HeaderTask, HeaderQueue, HeaderEnqueuedAt, HeaderVersion, HeaderContentType, HeaderReplayOf,
	"traceparent", "tracestate",
}

// maxKeptValue bounds each header value a truncated record keeps.
const maxKeptValue = 1024

// DeadLetter builds the dead-letter record of the task message with subject,
// header and data that failed as f says. The record keeps the body and the
// headers, drops the server-interpreted Nats-* ones, makes sure Jetq-Id holds
// the task ID, and sets Nats-Msg-Id to [RecordID] so a second filing of the
// same message is dropped as a duplicate.
//
// The record always fits lim. When the original's headers and body do not
// fit beside the failure's, the record is truncated: it keeps the headers
// that identify and trace the task, the body only if it fits, and a
// Jetq-Dlq-Original header naming where the caller must store the whole
// original ([EncodeOriginal]) before filing the record; see [Original].
func DeadLetter(n Names, queue, name string, h nats.Header, data []byte, f Failure, lim Limits) *nats.Msg {
	id := TaskID(tasks.Header(h), f.Stream, f.Seq)
	out := make(nats.Header, len(h)+8)
	for k, v := range h {
		if strings.HasPrefix(k, "Nats-") {
			continue
		}
		out[k] = v
	}
	if out.Get(HeaderEnqueuedAt) == "" && !f.StoredAt.IsZero() {
		// A task stored at once was enqueued when the stream stored it.
		out[HeaderEnqueuedAt] = []string{FormatTime(f.StoredAt)}
	}
	failure(out, id, f, MaxErrorLen)
	rec := &nats.Msg{Subject: n.DLQSubject(queue, name), Header: out, Data: data}
	if lim.fits(out, len(data)) {
		return rec
	}

	// Truncated: what identifies the task, the failure, a pointer to the rest.
	for _, errLen := range []int{MaxErrorLen, 256} {
		small := make(nats.Header, len(keptHeaders)+10)
		for _, k := range keptHeaders {
			if v := h.Get(k); v != "" && len(v) <= maxKeptValue {
				small[k] = []string{v}
			}
		}
		failure(small, headerSafe(id, maxKeptValue), f, errLen)
		small[HeaderDLQOriginal] = []string{RecordID(f.Stream, f.Seq, f.StoredAt)}
		rec.Header, rec.Data = small, data
		if !lim.fits(small, len(data)) {
			rec.Data = nil
		}
		if lim.fits(small, len(rec.Data)) {
			break
		}
	}
	return rec
}

// failure sets the headers that describe f, the task ID and the record's
// identity on h.
func failure(h nats.Header, id string, f Failure, errLen int) {
	h[HeaderID] = []string{id}
	h[HeaderMsgID] = []string{RecordID(f.Stream, f.Seq, f.StoredAt)}
	h[HeaderDLQReason] = []string{string(f.Reason)}
	h[HeaderDLQError] = []string{headerSafe(f.Error, errLen)}
	h[HeaderDLQStream] = []string{f.Stream}
	h[HeaderDLQSeq] = []string{strconv.FormatUint(f.Seq, 10)}
	h[HeaderDLQSubject] = []string{f.Subject}
	h[HeaderDLQDeliveries] = []string{strconv.Itoa(f.Deliveries)}
	h[HeaderDLQAt] = []string{FormatTime(f.At)}
}

// Original is the name under which a truncated record's original message is
// stored in the dead-letter objects bucket, or "" when rec is whole.
func Original(h nats.Header) string { return h.Get(HeaderDLQOriginal) }

// original is how a truncated record's original message is stored. JSON
// strings hold UTF-8 only: a header with other bytes (any publisher may send
// them) is kept exactly in Block, the NATS header block, beside Header,
// which readers of earlier releases read.
type original struct {
	Header nats.Header `json:"header"`
	Block  []byte      `json:"header_block,omitempty"`
	Data   []byte      `json:"data"`
}

// EncodeOriginal encodes a message's header and body for the dead-letter
// objects bucket, exactly as they were.
func EncodeOriginal(h nats.Header, data []byte) ([]byte, error) {
	o := original{Header: h, Data: data}
	if !headerUTF8(h) {
		o.Block = headerBlock(h)
	}
	return json.Marshal(o)
}

// DecodeOriginal reads what [EncodeOriginal] wrote.
func DecodeOriginal(b []byte) (nats.Header, []byte, error) {
	var o original
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, nil, fmt.Errorf("%w: stored original: %w", ErrMalformed, err)
	}
	if o.Block != nil {
		h, err := nats.DecodeHeadersMsg(o.Block)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: stored original's header: %w", ErrMalformed, err)
		}
		return h, o.Data, nil
	}
	return o.Header, o.Data, nil
}

func headerUTF8(h nats.Header) bool {
	for k, vs := range h {
		if !utf8.ValidString(k) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

// headerBlock encodes h as the NATS header block [HeaderSize] measures.
func headerBlock(h nats.Header) []byte {
	b := make([]byte, 0, HeaderSize(h))
	b = append(b, "NATS/1.0\r\n"...)
	for k, vs := range h {
		for _, v := range vs {
			b = append(append(append(append(b, k...), ": "...), v...), "\r\n"...)
		}
	}
	return append(b, "\r\n"...)
}

// ParseFailure reads the failure a dead-letter record's header describes.
// StoredAt is left zero.
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
	return Truncate(s, limit)
}

// Truncate cuts s to at most limit bytes, on a rune boundary, ending a
// cut text with "…".
func Truncate(s string, limit int) string {
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

// Replayed names the task a dead-letter record keeps, for [Replay].
type Replayed struct {
	// ID, Queue and Task identify the task; Subject is the one it was
	// published to, "" for the task subject of Queue and Task.
	ID, Queue, Task, Subject string
	// Seq is the record's sequence in the dead-letter stream.
	Seq uint64
}

// Replay is the message that sends the task of a dead-letter record, with
// header h and body, back to its queue as a fresh task: the task's own
// headers without the failure (Jetq-Dlq-*), the server's Nats-* ones and
// what a run now makes void (its deadline and run time are past, its
// unique key was released when it was dead-lettered); its ID, a new
// enqueue time now, Jetq-Replay-Of "<dead-letter stream>:<seq>", and the
// Nats-Msg-Id [ReplayID], new to the work stream, which may still remember
// the task ID from the original enqueue. h is not changed.
func Replay(n Names, h nats.Header, body []byte, r Replayed, now time.Time) *nats.Msg {
	subject := r.Subject
	if subject == "" {
		subject = n.TaskSubject(r.Queue, r.Task)
	}
	msg := &nats.Msg{Subject: subject, Header: nats.Header{}, Data: body}
	for k, v := range h {
		if !strings.HasPrefix(k, "Jetq-Dlq-") && !strings.HasPrefix(k, "Nats-") && !replayDrops[k] {
			msg.Header[k] = v
		}
	}
	msg.Header.Set(HeaderID, r.ID) // workers read the task ID from here first
	msg.Header.Set(HeaderMsgID, ReplayID(r.ID, r.Seq))
	msg.Header.Set(HeaderEnqueuedAt, FormatTime(now))
	msg.Header.Set(HeaderReplayOf, n.DLQStream()+":"+strconv.FormatUint(r.Seq, 10))
	return msg
}

// replayDrops are the headers of a task that a replay leaves out.
var replayDrops = map[string]bool{HeaderDeadline: true, HeaderRunAt: true, HeaderUnique: true}

// ReplayID is the Nats-Msg-Id of the replay of the task with ID id from the
// dead-letter record at seq: "<id>:replay:<seq>". Unlike the task ID, which
// the work stream may still remember from the original enqueue, it is new
// to the work stream, while a replay of one record repeated within the
// duplicates window is dropped.
func ReplayID(id string, seq uint64) string {
	return id + ":replay:" + strconv.FormatUint(seq, 10)
}
