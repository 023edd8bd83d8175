package embedded_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves goroutines behind: every
// server must be shut down and every connection closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
