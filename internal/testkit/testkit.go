package testkit

import (
	"bytes"
	"log/slog"
	"testing"
	"time"
)

// Logger returns a logger that writes to t's log at Info and above, so a
// failing test shows what the component saw.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(writer{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type writer struct{ t testing.TB }

func (w writer) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// WaitFor polls cond every 20 ms until it returns nil, and fails t with
// cond's last error when within has passed. It is the tests' one poll with
// a deadline: wait on a channel where there is one, and on WaitFor where
// there is only a state to read.
func WaitFor(t testing.TB, within time.Duration, cond func() error) {
	t.Helper()
	if err := Poll(within, cond); err != nil {
		t.Fatalf("condition not met within %v: %v", within, err)
	}
}

// Poll is [WaitFor] for a wait whose end is not the test's failure (a
// scenario that logs what it saw and goes on, a helper with no t): it
// returns nil once cond has, or cond's last error when within has passed.
func Poll(within time.Duration, cond func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
