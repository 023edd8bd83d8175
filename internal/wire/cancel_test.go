package wire

import (
	"testing"
	"time"
)

func TestCancelKeyNamesItsTaskType(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"welcome:42", "a.b.c", "ünïcode / spaces"} {
		key := CancelKey("default", "email.send.v2", id)
		q, name, ok := CancelKeyType(key)
		if !ok || q != "default" || name != "email.send.v2" {
			t.Errorf("CancelKeyType(%q) = %q, %q, %v; want default, email.send.v2", key, q, name, ok)
		}
	}
	for _, key := range []string{"", "onlyid", "id.queue"} {
		if q, name, ok := CancelKeyType(key); ok {
			t.Errorf("CancelKeyType(%q) = %q, %q, true; want false", key, q, name)
		}
	}
}

func TestCancelRecordRoundTrip(t *testing.T) {
	t.Parallel()
	c := Cancel{ID: "welcome:42", Queue: "default", Task: "email.send", At: time.Date(2026, 12, 7, 20, 0, 0, 5, time.UTC)}
	got, err := DecodeCancel(c.Encode())
	if err != nil || got != c {
		t.Errorf("DecodeCancel(Encode(%+v)) = %+v, %v", c, got, err)
	}
	for _, bad := range []string{"", "{}", "not json"} {
		if _, err := DecodeCancel([]byte(bad)); err == nil {
			t.Errorf("DecodeCancel(%q): no error", bad)
		}
	}
}
