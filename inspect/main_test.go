package inspect_test

import (
	"testing"

	"github.com/jetq/jetq/internal/testkit"
)

func TestMain(m *testing.M) {
	testkit.VerifyNoLeaks(m)
}
