package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetq/jetq/tasks"
)

// Invite is a payload whose Validate refuses what its schema lets through.
type Invite struct {
	Email string `json:"email"`
}

// Validate refuses an address without @.
func (i Invite) Validate() error {
	if !strings.Contains(i.Email, "@") {
		return errors.New("email must contain @")
	}
	return nil
}

var sendInvite = tasks.Define[Invite]("invite.send")

func TestEnqueueAsksALiveWorkerToValidate(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, sendInvite, func(context.Context, *tasks.Task[Invite]) error { return nil })
	w := c.runWorker(reg)
	// A payload Validate accepts goes once the worker answers.
	c.waitForCmd("enqueue", "invite.send", `{"email":"ada@example.com"}`)
	stored := c.lastSeq()

	// One the schema accepts and Validate refuses: refused with the reason.
	code, out, errOut := c.jetq("enqueue", "invite.send", `{"email":"nobody"}`)
	if code != exitError || out != "" || !strings.Contains(errOut, `payload refused by a worker of task "invite.send" on queue "default"`) || !strings.Contains(errOut, "email must contain @") {
		t.Errorf("enqueue a payload Validate refuses: exit %d, out %q, stderr %q; want exit %d with the worker's reason", code, out, errOut, exitError)
	}
	if n := c.lastSeq(); n != stored {
		t.Fatalf("a refused payload reached the work stream: last seq %d, want %d", n, stored)
	}

	// The payload from standard input and from a file.
	code, out, errOut = c.jetqIn(input{r: strings.NewReader(`{"email":"grace@example.com"}` + "\n")}, "enqueue", "invite.send", "-")
	if code != 0 || !strings.Contains(out, "enqueued") {
		t.Errorf("enqueue from stdin: exit %d, out %q, stderr %q", code, out, errOut)
	}
	file := filepath.Join(t.TempDir(), "invite.json")
	if err := os.WriteFile(file, []byte(`{"email":"no-at-sign"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut = c.jetq("enqueue", "invite.send", "@"+file); code != exitError || !strings.Contains(errOut, "email must contain @") {
		t.Errorf("enqueue @file with a bad payload: exit %d, stderr %q; want the worker's reason", code, errOut)
	}
	if code, _, errOut = c.jetq("enqueue", "invite.send", "@"+file+".missing"); code != exitUsage || !strings.Contains(errOut, "no such file") {
		t.Errorf("enqueue @missing-file: exit %d, stderr %q", code, errOut)
	}

	// No live worker: the check cannot be made; the task is enqueued with a
	// warning that says so, and --force enqueues without it.
	if err := w.Stop(t); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = c.jetq("enqueue", "invite.send", `{"email":"ada@example.com"}`)
	if code != 0 || !strings.Contains(out, "enqueued") || !strings.Contains(errOut, "warning: payload not checked by a worker: no live worker") {
		t.Errorf("enqueue with no live worker: exit %d, out %q, stderr %q; want it enqueued with a warning that no worker checked it", code, out, errOut)
	}
	if code, out, errOut = c.jetq("enqueue", "invite.send", `{"email":"ada@example.com"}`, "--force"); code != 0 || !strings.Contains(out, "enqueued") {
		t.Errorf("enqueue --force with no live worker: exit %d, out %q, stderr %q", code, out, errOut)
	}
}
