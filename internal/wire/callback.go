package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/tasks"
)

// Headers of a task that names callbacks (producer.OnSuccess,
// producer.OnFailure), each holding a [Callback] in its text form.
const (
	HeaderOnSuccess = "Jetq-On-Success"
	HeaderOnFailure = "Jetq-On-Failure"
)

// HeaderCallback marks a callback task with its kind ([CallbackSuccess] or
// [CallbackFailure]): a worker claims its run by ID before running it, so
// that a copy enqueued again after the work stream's deduplication window
// does not run twice.
const HeaderCallback = "Jetq-Callback"

// Kinds of callback, the values of [HeaderCallback].
const (
	CallbackSuccess = "on-success"
	CallbackFailure = "on-failure"
)

// CallbackFiring is the firing (see [FiredKey]) a callback's delivery
// claims: one per callback ID.
const CallbackFiring = "callback"

// Callback is what a worker needs to enqueue a callback task: its queue,
// its name and the content type of its payload.
type Callback struct {
	Queue, Task, ContentType string
}

// String is the header form of c: "<queue> <task> <content type>".
func (c Callback) String() string { return c.Queue + " " + c.Task + " " + c.ContentType }

// ParseCallback reads the header form of a [Callback]; an error wraps
// [ErrMalformed].
func ParseCallback(s string) (Callback, error) {
	parts := strings.SplitN(s, " ", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Callback{}, fmt.Errorf("%w: callback %q is not \"<queue> <task> <content type>\"", ErrMalformed, s)
	}
	return Callback{Queue: parts[0], Task: parts[1], ContentType: parts[2]}, nil
}

// MaxID is the longest task ID, in bytes, that a producer accepts.
const MaxID = 200

// CallbackID is the ID of the callback of kind kind enqueued when the task
// id, stored at seq in the work stream, settled: "<id>:<kind>:<seq>". Every
// delivery of that message, and the dead-letter forwarder, derive the same
// ID, so the work stream drops a second enqueue within its deduplication
// window; the sequence tells a later settlement of the same ID (a replay
// from the dead-letter stream, an ID enqueued again after the window) from
// this one. An ID that would pass 200 bytes is replaced by its SHA-256.
func CallbackID(id, kind string, seq uint64) string {
	tail := ":" + kind + ":" + strconv.FormatUint(seq, 10)
	if len(id)+len(tail) > MaxID {
		sum := sha256.Sum256([]byte(id))
		id = "sha256-" + hex.EncodeToString(sum[:])
	}
	return id + tail
}

// CallbackMsg is the message of callback cb, of kind kind, that the
// settlement of task parent, stored at seq, enqueues with payload body:
// its ID ([CallbackID]) as Nats-Msg-Id and Jetq-Id, the parent's ID in
// tasks.HeaderParent, the kind in [HeaderCallback], and the content type
// when it is not JSON. The trace context is the caller's to add.
func CallbackMsg(n Names, cb Callback, kind, parent string, seq uint64, body []byte) *nats.Msg {
	id := CallbackID(parent, kind, seq)
	h := nats.Header{
		HeaderMsgID:        {id},
		HeaderID:           {id},
		tasks.HeaderParent: {parent},
		HeaderCallback:     {kind},
	}
	if cb.ContentType != tasks.JSON.ContentType() {
		h[HeaderContentType] = []string{cb.ContentType}
	}
	return &nats.Msg{Subject: n.TaskSubject(cb.Queue, cb.Task), Header: h, Data: body}
}
