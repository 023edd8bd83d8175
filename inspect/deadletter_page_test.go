package inspect_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/tasks"
)

// TestDeadLetterPageAndCount pages through records newest first, with a filter
// that matches few of them read within a bound, and counts them.
func TestDeadLetterPageAndCount(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	if err := b.p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for n := range 30 {
		reason := tasks.ReasonMaxAttempts
		if n%10 == 3 {
			reason = tasks.ReasonTimeout // records 4, 14, 24
		}
		fileRecord(t, b.js, "default", "job.page", reason, now, n)
	}
	fileRecord(t, b.js, "other", "job.other", tasks.ReasonPermanent, now, 99)

	// Pages of 12, newest first: 31..20, 19..8, 7..1.
	var seen []uint64
	f := inspect.DeadLetterFilter{Task: "job.page", Order: inspect.NewestFirst, Limit: 12}
	for page := 0; ; page++ {
		p, err := b.in.DeadLetterPage(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Entries {
			seen = append(seen, e.Seq)
		}
		if p.Next == 0 {
			if page != 2 || len(p.Entries) != 6 {
				t.Errorf("last page %d with %d entries", page, len(p.Entries))
			}
			break
		}
		f.After = p.Next
	}
	if len(seen) != 30 || seen[0] != 30 || seen[29] != 1 {
		t.Errorf("pages saw %v", seen)
	}

	// Three timeouts (4, 14, 24) among 31: at most 10 read a page, each page says where
	// the read stopped, and no match is lost or repeated.
	var found []uint64
	f = inspect.DeadLetterFilter{Reason: tasks.ReasonTimeout, Order: inspect.NewestFirst, Limit: 50, MaxRead: 10}
	pages := 0
	for {
		p, err := b.in.DeadLetterPage(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if p.Read > 10 {
			t.Errorf("page read %d records, bound 10", p.Read)
		}
		for _, e := range p.Entries {
			found = append(found, e.Seq)
		}
		if p.Next == 0 {
			break
		}
		if !p.Partial {
			t.Errorf("a page ended by MaxRead is not partial: %+v", p)
		}
		f.After = p.Next
	}
	if len(found) != 3 || found[0] != 24 || found[2] != 4 || pages != 4 {
		t.Errorf("timeouts %v in %d pages", found, pages)
	}

	for f, want := range map[*inspect.DeadLetterFilter]int{
		{}:                                  31,
		{Task: "job.page"}:                  30,
		{Reason: tasks.ReasonTimeout}:       3,
		{ID: "job.page:14"}:                 1,
		{Queue: "other", ID: "job.page:14"}: 0,
	} {
		if n, err := b.in.CountDeadLetters(ctx, *f); err != nil || n != want {
			t.Errorf("Count(%+v) = %d %v, want %d", *f, n, err, want)
		}
	}
	if got, err := b.in.DeadLettersByTask(ctx); err != nil || len(got) != 2 ||
		got[0] != (inspect.DeadLetterCount{Queue: "default", Task: "job.page", Records: 30}) || got[1] != (inspect.DeadLetterCount{Queue: "other", Task: "job.other", Records: 1}) {
		t.Errorf("ByTask: %+v %v", got, err)
	}
	if _, err := b.in.DeadLetterPage(ctx, inspect.DeadLetterFilter{MaxRead: -1}); !errors.Is(err, inspect.ErrInvalidQuery) {
		t.Errorf("a negative MaxRead: %v", err)
	}
}
