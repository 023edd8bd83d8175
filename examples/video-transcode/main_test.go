package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// The long-running example, scaled down: the short transcode runs three
// times longer than the ack wait and still finishes on its first and only
// delivery (heartbeats); the long one is cancelled at its deadline and leaves
// no partial file behind.
func TestTranscodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := config{secondCost: 50 * time.Millisecond, timeout: 4 * time.Second, ackWait: time.Second, outDir: dir}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	final, err := run(ctx, cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	intro, feature := final[0], final[1]
	if intro.State != status.Done || intro.Attempt != 1 {
		t.Errorf("intro: %+v, want done on its only attempt", intro)
	}
	if feature.State != status.DeadLettered || feature.Reason != tasks.ReasonTimeout || !strings.Contains(feature.Error, "context deadline exceeded") {
		t.Errorf("feature: %+v, want dead-lettered for its timeout", feature)
	}
	if !strings.Contains(out.String(), "intro.mp4    running ") || !strings.Contains(out.String(), "% encoded ") {
		t.Errorf("no progress report in the output:\n%s", out.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 || filepath.Base(files[0]) != "intro.mp4.webm" {
		t.Errorf("output dir holds %v, want only intro.mp4.webm", files)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "intro.mp4.webm")); err != nil || strings.Count(string(b), "\n") != 60 {
		t.Errorf("intro output: %d lines, %v", strings.Count(string(b), "\n"), err)
	}
}
