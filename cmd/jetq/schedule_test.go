package main

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/tasks"
)

var remind = tasks.Define[Email]("mail.remind")

func TestScheduledCommands(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	ctx := context.Background()

	// Nothing scheduled yet: the commands say so and create no streams.
	if code, out, errOut := c.jetq("scheduled", "ls"); code != 0 || !strings.Contains(out, "no delayed tasks: no stream JETQ_SCHEDULES") {
		t.Errorf("scheduled ls on an empty server: %d %q %q", code, out, errOut)
	}
	if code, out, _ := c.jetq("scheduled", "ls", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("scheduled ls --json on an empty server: %d %q", code, out)
	}
	if code, _, errOut := c.jetq("scheduled", "rm", "remind-1"); code != exitError || !strings.Contains(errOut, `task "remind-1"`) {
		t.Errorf("scheduled rm on an empty server: %d %q", code, errOut)
	}
	if _, err := c.js.Stream(ctx, "JETQ_SCHEDULES"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("the read-only commands created the schedule stream: %v", err)
	}

	p, err := producer.New(c.js, producer.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	for _, id := range []string{"remind-1", "remind-2"} {
		if _, err := producer.Enqueue(ctx, p, remind, Email{To: id + "@example.com"}, producer.WithDelay(time.Hour), producer.WithID(id)); err != nil {
			t.Fatal(err)
		}
	}
	after := time.Now()

	code, out, errOut := c.jetq("scheduled", "ls", "--json")
	var rows []delayedRow
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 {
		t.Fatalf("scheduled ls --json: %d %q %q", code, out, errOut)
	}
	for i, id := range []string{"remind-1", "remind-2"} {
		r := rows[i]
		if r.ID != id || r.Task != "mail.remind" || r.Queue != "default" || r.Seq == 0 {
			t.Errorf("row %d: %+v", i, r)
		}
		if r.RunAt.Before(before.Add(time.Hour-time.Second)) || r.RunAt.After(after.Add(time.Hour)) {
			t.Errorf("row %d runs at %v, want an hour after the enqueue (%v to %v)", i, r.RunAt, before, after)
		}
	}
	if rows[0].Seq >= rows[1].Seq {
		t.Errorf("rows out of order: %+v", rows)
	}

	code, out, _ = c.jetq("scheduled", "ls")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "ID TASK QUEUE RUN AT SEQ" {
		t.Fatalf("scheduled ls table: %d\n%s", code, out)
	}
	for i, r := range rows {
		want := []string{r.ID, "mail.remind", "default", r.RunAt.Local().Format(time.RFC3339), strconv.FormatUint(r.Seq, 10)}
		if got := strings.Fields(lines[i+1]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("table row %d: %q, want %q", i, got, want)
		}
	}
	if strings.Contains(out, "more may follow") {
		t.Errorf("a page short of the limit hints at more:\n%s", out)
	}

	// Paging: a full page names the token of the next.
	code, out, _ = c.jetq("scheduled", "ls", "--limit", "1")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	tok, ok := strings.CutPrefix(lines[len(lines)-1], "(more follow: --page ")
	tok = strings.TrimSuffix(tok, ")")
	if code != 0 || !strings.Contains(out, "remind-1") || strings.Contains(out, "remind-2") || !ok {
		t.Errorf("scheduled ls --limit 1: %d\n%s", code, out)
	}
	code, out, _ = c.jetq("scheduled", "ls", "--page", tok, "-n", "1")
	if code != 0 || !strings.Contains(out, "remind-2") || strings.Contains(out, "remind-1") || strings.Contains(out, "more follow") {
		t.Errorf("scheduled ls --page %s -n 1: %d\n%s", tok, code, out)
	}
	if code, _, errOut := c.jetq("scheduled", "ls", "--page", "not-a-token"); code != exitUsage || !strings.Contains(errOut, "malformed") {
		t.Errorf("scheduled ls --page not-a-token: %d %q", code, errOut)
	}

	if code, out, errOut = c.jetq("scheduled", "rm", "remind-1"); code != 0 || out != "cancelled 1 task(s)\n" {
		t.Fatalf("scheduled rm remind-1: %d %q %q", code, out, errOut)
	}
	for _, tc := range []struct {
		args     []string
		code     int
		mentions []string
	}{
		{[]string{"scheduled", "rm", "remind-1"}, exitError, []string{`task "remind-1"`, "cancelled already"}},
		{[]string{"scheduled", "rm", "no-such-task"}, exitError, []string{`task "no-such-task"`, "no such task"}},
		{[]string{"scheduled", "rm", "remind-2", "no-such-task"}, exitError, []string{`task "no-such-task"`, "(1 cancelled before it)"}},
		{[]string{"scheduled", "rm"}, exitUsage, []string{"needs the IDs"}},
		{[]string{"scheduled", "ls", "--limit", "0"}, exitUsage, []string{"--limit must be 1 to 1000"}},
		{[]string{"scheduled", "ls", "extra"}, exitUsage, []string{`takes no arguments; got ["extra"]`}},
		{[]string{"scheduled", "ls", "--prefix", "Not A Prefix"}, exitUsage, []string{"prefix"}},
	} {
		code, _, errOut := c.jetq(tc.args...)
		if code != tc.code {
			t.Errorf("jetq %v: exit %d, want %d; stderr %q", tc.args, code, tc.code, errOut)
		}
		for _, m := range tc.mentions {
			if !strings.Contains(errOut, m) {
				t.Errorf("jetq %v: stderr %q does not mention %q", tc.args, errOut, m)
			}
		}
	}
	if code, out, _ = c.jetq("scheduled", "ls", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("after cancelling both: %d %q", code, out)
	}
	// Another deployment's prefix sees none of them.
	if code, out, _ = c.jetq("scheduled", "ls", "--prefix", "other"); code != 0 || !strings.Contains(out, "no stream OTHER_SCHEDULES") {
		t.Errorf("scheduled ls --prefix other: %d %q", code, out)
	}
}

func TestPeriodicCommands(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	ctx := context.Background()
	if code, out, errOut := c.jetq("periodic", "ls"); code != 0 || !strings.Contains(out, "no periodic tasks: no stream JETQ_SCHEDULES") {
		t.Errorf("periodic ls on an empty server: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := c.jetq("periodic", "rm", "reports.nightly"); code != exitError || !strings.Contains(errOut, `"reports.nightly"`) {
		t.Errorf("periodic rm on an empty server: %d %q", code, errOut)
	}

	s, err := schedule.New(c.js, schedule.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	report := tasks.Define[Email]("report.build", tasks.WithQueue("reports"))
	nightly := schedule.Periodic{Name: "reports.nightly", Schedule: "0 30 2 * * *", TimeZone: "Europe/Berlin", StaleAfter: time.Hour}
	if err := schedule.Declare(ctx, s, report, nightly, Email{To: "ops@example.com"}); err != nil {
		t.Fatal(err)
	}
	sweep := schedule.Periodic{Name: "cache.sweep", Schedule: "@every 1h"}
	if err := schedule.Declare(ctx, s, sendEmail, sweep, Email{To: "cache@example.com"}); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := c.jetq("periodic", "ls", "--json")
	var rows []periodicRow
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 {
		t.Fatalf("periodic ls --json: %d %q %q", code, out, errOut)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0]
	next := r.Next.In(berlin)
	if r.Name != "reports.nightly" || r.Schedule != nightly.Schedule || r.TimeZone != "Europe/Berlin" || r.StaleAfter != "1h0m0s" ||
		r.Task != "report.build" || r.Queue != "reports" || next.Hour() != 2 || next.Minute() != 30 || next.Second() != 0 ||
		!r.Next.After(time.Now()) || r.Next.After(time.Now().Add(25*time.Hour)) {
		t.Errorf("reports.nightly: %+v (next in Berlin %v)", r, next)
	}
	if r := rows[1]; r.Name != "cache.sweep" || r.TimeZone != "" || r.Task != "email.send" || r.Queue != "default" ||
		!r.Next.After(time.Now().Add(59*time.Minute)) || r.Next.After(time.Now().Add(61*time.Minute)) {
		t.Errorf("cache.sweep: %+v", r)
	}

	code, out, _ = c.jetq("periodic", "ls")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "NAME SCHEDULE TIME ZONE TASK QUEUE NEXT" {
		t.Fatalf("periodic ls table: %d\n%s", code, out)
	}
	for i, want := range [][]string{
		{"reports.nightly", "0", "30", "2", "*", "*", "*", "Europe/Berlin", "report.build", "reports", rows[0].Next.Local().Format(time.RFC3339)},
		{"cache.sweep", "@every", "1h", "-", "email.send", "default", rows[1].Next.Local().Format(time.RFC3339)},
	} {
		if got := strings.Fields(lines[i+1]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("table row %d: %q, want %q", i, got, want)
		}
	}

	if code, out, errOut = c.jetq("periodic", "rm", "reports.nightly"); code != 0 || out != "removed 1 periodic task(s)\n" {
		t.Fatalf("periodic rm reports.nightly: %d %q %q", code, out, errOut)
	}
	for _, tc := range []struct {
		args     []string
		code     int
		mentions []string
	}{
		{[]string{"periodic", "rm", "reports.nightly"}, exitError, []string{`"reports.nightly"`, "no periodic task with this name"}},
		{[]string{"periodic", "rm", "no.such.task"}, exitError, []string{`"no.such.task"`, "no periodic task with this name"}},
		{[]string{"periodic", "rm", ">"}, exitUsage, []string{"periodic task name", "must be lower-case"}},
		{[]string{"periodic", "rm"}, exitUsage, []string{"needs the names"}},
		{[]string{"periodic", "ls", "extra"}, exitUsage, []string{`takes no arguments; got ["extra"]`}},
	} {
		code, _, errOut := c.jetq(tc.args...)
		if code != tc.code {
			t.Errorf("jetq %v: exit %d, want %d; stderr %q", tc.args, code, tc.code, errOut)
		}
		for _, m := range tc.mentions {
			if !strings.Contains(errOut, m) {
				t.Errorf("jetq %v: stderr %q does not mention %q", tc.args, errOut, m)
			}
		}
	}
	code, out, _ = c.jetq("periodic", "ls", "--json")
	rows = nil
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Name != "cache.sweep" {
		t.Errorf("after removing reports.nightly: %d %q", code, out)
	}
	if code, out, _ = c.jetq("periodic", "rm", "cache.sweep", "--json"); code != 0 || strings.Join(strings.Fields(out), "") != `{"removed":1}` {
		t.Errorf("periodic rm --json: %d %q", code, out)
	}
	if code, out, _ = c.jetq("periodic", "ls"); code != 0 || out != "no periodic tasks declared\n" {
		t.Errorf("periodic ls after removing both: %d %q", code, out)
	}
}
