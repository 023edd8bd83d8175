package wire

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/tasks"
)

// fakeMsg is a delivered message as ReadRoute reads it: subject, header and
// data. Its other methods are nil and panic if called.
type fakeMsg struct {
	jetstream.Msg
	subject string
	header  nats.Header
}

func (m fakeMsg) Subject() string      { return m.subject }
func (m fakeMsg) Headers() nats.Header { return m.header }
func (m fakeMsg) Data() []byte         { return nil }

func TestReadRouteSetsIDOfMalformedMessages(t *testing.T) {
	t.Parallel()
	names := Names{}
	subject := names.TaskSubject("default", "real.task")
	md := &jetstream.MsgMetadata{Stream: "JETQ_TASKS", Consumer: "default:real:task", NumDelivered: 1,
		Sequence: jetstream.SequencePair{Stream: 7}}
	for _, tc := range []struct {
		name    string
		subject string
		header  nats.Header
		wantID  string
	}{
		{"other wire version", subject, nats.Header{HeaderVersion: {"9"}, HeaderID: {"task-1"}}, "task-1"},
		{"task header contradicts the subject", subject, nats.Header{HeaderTask: {"other.task"}, HeaderID: {"task-2"}}, "task-2"},
		{"queue header contradicts the subject", subject, nats.Header{HeaderQueue: {"other"}, HeaderMsgID: {"raw-3"}}, "raw-3"},
		{"not a task subject, no IDs", "jetq.task.default", nats.Header{}, "JETQ_TASKS:7"},
	} {
		var env tasks.Envelope
		err := ReadRoute(&env, names, fakeMsg{subject: tc.subject, header: tc.header}, md, subject, "default", "real.task")
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got error %v, want one wrapping %v", tc.name, err, ErrMalformed)
		}
		if env.ID != tc.wantID {
			t.Errorf("%s: got env.ID %q, want %q", tc.name, env.ID, tc.wantID)
		}
	}
}

// TestReadRouteReadsEveryForm reads a task as this version writes it (the ID
// alone) and as earlier ones did (every header): both are the same task.
func TestReadRouteReadsEveryForm(t *testing.T) {
	t.Parallel()
	names := Names{}
	subject := names.TaskSubject("critical", "email.send")
	stored := time.Date(2026, 11, 25, 9, 30, 0, 5, time.UTC)
	md := &jetstream.MsgMetadata{Stream: "JETQ_TASKS", Consumer: "critical:email:send", NumDelivered: 2,
		Sequence: jetstream.SequencePair{Stream: 42}, Timestamp: stored}
	const id = "0193a4f2-7b1c-7def-8123-456789abcdef"
	for _, tc := range []struct {
		name   string
		header nats.Header
		at     time.Time
	}{
		{"lean", nats.Header{HeaderMsgID: {id}}, stored},
		{"every header", nats.Header{
			HeaderMsgID: {id}, HeaderID: {id}, HeaderTask: {"email.send"}, HeaderQueue: {"critical"},
			HeaderEnqueuedAt: {"2026-11-25T09:29:59.000000000Z"}, HeaderVersion: {"1"}, HeaderContentType: {"application/json"},
		}, time.Date(2026, 11, 25, 9, 29, 59, 0, time.UTC)},
	} {
		var env tasks.Envelope
		if err := ReadRoute(&env, names, fakeMsg{subject: subject, header: tc.header}, md, subject, "critical", "email.send"); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if env.ID != id || env.Name != "email.send" || env.Queue != "critical" || env.Attempt != 2 ||
			env.Sequence != 42 || !env.EnqueuedAt.Equal(tc.at) {
			t.Errorf("%s: read %+v", tc.name, env)
		}
	}
}
