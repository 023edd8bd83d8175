package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestCallbackID(t *testing.T) {
	t.Parallel()
	if got, want := CallbackID("order-42", CallbackSuccess, 7), "order-42:on-success:7"; got != want {
		t.Errorf("CallbackID = %q, want %q", got, want)
	}
	long := strings.Repeat("x", 200)
	a, b := CallbackID(long, CallbackFailure, 18446744073709551615), CallbackID(long+"y", CallbackFailure, 18446744073709551615)
	if len(a) > 200 || !strings.HasPrefix(a, "sha256-") || a == b {
		t.Errorf("IDs of long parents: %q (%d bytes) and %q, want distinct hashes within 200 bytes", a, len(a), b)
	}
	if CallbackID(long, CallbackFailure, 1) != CallbackID(long, CallbackFailure, 1) {
		t.Error("CallbackID is not deterministic")
	}
}

func TestParseCallback(t *testing.T) {
	t.Parallel()
	c := Callback{Queue: "notices", Task: "email.sent", ContentType: "application/json; charset=utf-8"}
	if got, err := ParseCallback(c.String()); err != nil || got != c {
		t.Errorf("ParseCallback(%q) = %+v, %v; want %+v", c.String(), got, err, c)
	}
	for _, bad := range []string{"", "default", "default email.sent", " email.sent application/json"} {
		if _, err := ParseCallback(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCallback(%q): %v, want ErrMalformed", bad, err)
		}
	}
}

// TestCallbackMessageGolden freezes the success callback of a task as the
// worker enqueues it, with a codec other than JSON to show its header.
func TestCallbackMessageGolden(t *testing.T) {
	t.Parallel()
	cb := Callback{Queue: "billing", Task: "charge.done", ContentType: "application/json; charset=utf-8"}
	m := CallbackMsg(Names{}, cb, CallbackSuccess, "0193a4f2-7b1c-7def-8123-456789abcdef", 42, []byte(`{"total":500}`))
	golden(t, "callback_v1.txt", render(m))
}
