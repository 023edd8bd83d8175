package pausing

import (
	"testing"
	"time"
)

func TestScopeKeysRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []Scope{{}, {Queue: "bulk"}, {Queue: "default", Task: "email.send.now"}} {
		got, ok := scopeOf(s.Key())
		if !ok || got != s {
			t.Errorf("scopeOf(%q) = %+v, %v; want %+v", s.Key(), got, ok, s)
		}
	}
	if _, ok := scopeOf("other"); ok {
		t.Error(`scopeOf("other") reads a scope`)
	}
}

func TestRecordsUntilIsTheLatestEndOverAType(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	soon, later, past := now.Add(time.Hour), now.Add(2*time.Hour), now.Add(-time.Hour)
	rs := Records{
		{}:                          {Until: soon},
		{Queue: "bulk"}:             {Until: later},
		{Queue: "bulk", Task: "a"}:  {Until: past},
		{Queue: "mail", Task: "b"}:  {},
		{Queue: "other", Task: "c"}: {Until: past},
	}
	for _, tc := range []struct {
		queue, task string
		want        time.Time
	}{
		{"bulk", "a", later},   // its own ended; its queue's is the latest
		{"mail", "b", Forever}, // until resumed
		{"mail", "x", soon},    // every queue's
		{"other", "c", soon},
	} {
		if got := rs.Until(tc.queue, tc.task, now); !got.Equal(tc.want) {
			t.Errorf("Until(%s, %s) = %v, want %v", tc.queue, tc.task, got, tc.want)
		}
	}
	if got := (Records{{Queue: "bulk", Task: "a"}: {Until: past}}).Until("bulk", "a", now); !got.IsZero() {
		t.Errorf("an ended pause: Until = %v, want zero", got)
	}
}
