package jetqtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/testkit"
)

// Msgs is how many messages stream holds now; it fails the test when the
// stream cannot be read.
func Msgs(t testing.TB, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// WaitEmpty waits, for at most 30 s, until stream holds no message.
func WaitEmpty(t testing.TB, js jetstream.JetStream, stream string) {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, func() error {
		if n := Msgs(t, js, stream); n != 0 {
			return fmt.Errorf("%s holds %d messages", stream, n)
		}
		return nil
	})
}

// WaitLen waits, for at most 30 s, until list returns want items, and
// returns them; what names them in the failure.
func WaitLen[T any](t testing.TB, want int, what string, list func() ([]T, error)) []T {
	t.Helper()
	var items []T
	testkit.WaitFor(t, 30*time.Second, func() error {
		var err error
		if items, err = list(); err != nil {
			return err
		}
		if len(items) != want {
			return fmt.Errorf("%s: %d, want %d", what, len(items), want)
		}
		return nil
	})
	return items
}
