package consumer_test

import (
	"os"
	"testing"

	"github.com/jetq/jetq/internal/testkit"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(crashWorkerURL); url != "" {
		os.Exit(crashWorker(url)) // callback_test.go: the worker process of a crash test
	}
	testkit.VerifyNoLeaks(m)
}
