package flow_test

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// The crash test runs this binary as the worker it kills.
	if url := os.Getenv(envCrashURL); url != "" {
		crashWorker(url, os.Getenv(envCrashPoint))
	}
	os.Exit(m.Run())
}
