package wire

import (
	"errors"
	"testing"

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
