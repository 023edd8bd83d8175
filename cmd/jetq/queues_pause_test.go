package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
)

// pausedRow is email.send's row of `jetq queues --json`.
func (c *cli) pausedRow() inspect.QueueStats {
	c.t.Helper()
	code, out, errOut := c.jetq("queues", "--json")
	var rows []inspect.QueueStats
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil {
		c.t.Fatalf("jetq queues: %d %s %s", code, out, errOut)
	}
	for _, r := range rows {
		if r.Task == "email.send" {
			return r
		}
	}
	c.t.Fatalf("no email.send row: %s", out)
	return inspect.QueueStats{}
}

func TestQueuesPauseAndResume(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	p, err := producer.New(c.js, producer.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Provision(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.serve()
	waitFor(t, func() bool {
		code, out, _ := c.jetq("queues", "--json")
		return code == 0 && strings.Contains(out, `"consumers": 1`)
	})

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"queues", "pause"}, "one argument, <queue>, or --all"},
		{[]string{"queues", "pause", "default", "--all"}, "--all takes no queue"},
		{[]string{"queues", "pause", "nowhere"}, "no worker has ever served a task of queue nowhere"},
		{[]string{"queues", "pause", "default", "--task", "email.nope"}, "no worker has ever served task email.nope"},
		{[]string{"queues", "pause", "default", "--until", "-5m"}, "that time has passed"},
		{[]string{"queues", "pause", "default", "--until", "soon"}, "neither a clock time"},
		{[]string{"queues", "resume", "nowhere"}, "no worker has ever served"},
	} {
		code, _, errOut := c.jetq(tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("jetq %v = %d %q, want a failure saying %q", tc.args, code, errOut, tc.want)
		}
	}
	if r := c.pausedRow(); r.Paused {
		t.Fatalf("paused after refused commands: %+v", r)
	}

	code, out, errOut := c.jetq("queues", "pause", "default", "--task", "email.send", "--until", "2h")
	if code != 0 || !strings.HasPrefix(out, "paused task email.send on queue default until ") {
		t.Fatalf("pause: %d %q %q", code, out, errOut)
	}
	if r := c.pausedRow(); !r.Paused || time.Until(r.PausedUntil) < time.Hour {
		t.Fatalf("after pause --until 2h: %+v", r)
	}
	if code, out, _ := c.jetq("queues"); code != 0 || !strings.Contains(out, "until 20") {
		t.Errorf("jetq queues shows no pause end:\n%s", out)
	}
	if code, out, errOut := c.jetq("queues", "pause", "--all"); code != 0 || out != "paused all queues until resumed\n" {
		t.Fatalf("pause --all: %d %q %q", code, out, errOut)
	}
	code, out, errOut = c.jetq("queues", "resume", "default", "--task", "email.send")
	if want := "resumed task email.send on queue default\nstill paused: the pause of all queues holds, until resumed\n"; code != 0 || out != want {
		t.Fatalf("resume of a type under every queue's pause: %d %q %q, want %q", code, out, errOut, want)
	}
	if r := c.pausedRow(); !r.Paused || !r.PausedUntil.IsZero() {
		t.Fatalf("after pause --all: %+v, want paused until resumed", r)
	}
	if code, out, errOut := c.jetq("queues", "resume", "--all", "--json"); code != 0 || !strings.Contains(out, `"action": "resume"`) {
		t.Fatalf("resume --all: %d %q %q", code, out, errOut)
	}
	if r := c.pausedRow(); r.Paused {
		t.Fatalf("after resume --all: %+v", r)
	}
}

func TestParsePauseEnd(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 10, 30, 0, 0, time.Local)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"14:00", time.Date(2026, 12, 7, 14, 0, 0, 0, time.Local)},
		{"09:15:30", time.Date(2026, 12, 7, 9, 15, 30, 0, time.Local)},
		{"2026-12-08T01:02:03Z", time.Date(2026, 12, 8, 1, 2, 3, 0, time.UTC)},
	} {
		got, err := parsePauseEnd(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parsePauseEnd(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if got, err := parsePauseEnd("90m", now); err != nil || time.Until(got) < 80*time.Minute {
		t.Errorf("parsePauseEnd(90m) = %v, %v; want 90 minutes from now", got, err)
	}
	if _, err := parsePauseEnd("25:00", now); err == nil {
		t.Error("parsePauseEnd(25:00) = nil error")
	}
}
