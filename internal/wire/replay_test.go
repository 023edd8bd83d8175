package wire

import (
	"maps"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestReplay(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	h := nats.Header{
		HeaderID: {"order:7"}, HeaderMsgID: {"order:7"}, HeaderTask: {"pay.charge"}, HeaderQueue: {"billing"},
		HeaderEnqueuedAt: {"2026-12-01T00:00:00Z"}, HeaderDeadline: {"2026-12-01T01:00:00Z"},
		HeaderRunAt: {"2026-12-01T00:30:00Z"}, HeaderUnique: {"cust:9"}, HeaderDLQReason: {"permanent"},
		HeaderDLQError: {"boom"}, "Nats-Expected-Stream": {"JETQ_TASKS"}, "traceparent": {"00-abc-def-01"},
	}
	before := maps.Clone(h)
	for _, tc := range []struct {
		subject, want string
	}{
		{"jetq.task.billing.pay.charge", "jetq.task.billing.pay.charge"},
		{"", "jetq.task.billing.pay.charge"},
	} {
		m := Replay(Names{}, h, []byte(`{}`), Replayed{ID: "order:7", Queue: "billing", Task: "pay.charge", Subject: tc.subject, Seq: 12}, now)
		want := nats.Header{
			HeaderID: {"order:7"}, HeaderMsgID: {"order:7:replay:12"}, HeaderTask: {"pay.charge"}, HeaderQueue: {"billing"},
			HeaderEnqueuedAt: {FormatTime(now)}, HeaderReplayOf: {"JETQ_DLQ:12"}, "traceparent": {"00-abc-def-01"},
		}
		if m.Subject != tc.want || !maps.EqualFunc(m.Header, want, func(a, b []string) bool { return len(a) == 1 && len(b) == 1 && a[0] == b[0] }) || string(m.Data) != "{}" {
			t.Errorf("Replay with subject %q: %s %v, want %s %v", tc.subject, m.Subject, m.Header, tc.want, want)
		}
	}
	if !maps.EqualFunc(h, before, func(a, b []string) bool { return a[0] == b[0] }) {
		t.Errorf("Replay changed the record's header: %v", h)
	}
}
