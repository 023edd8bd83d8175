package inspect

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/jetq/jetq/internal/directget"
	"github.com/jetq/jetq/status"
)

// retrying lists the retrying tasks: the deliveries not settled that no
// live worker holds, in work stream order. For each task type with
// deliveries not settled, its consumer says the span (its ack floor and
// last delivery); what the work stream still stores there on the type's
// subject is not settled (an acknowledged task is gone), and what no
// presence entry lists as held waits out a retry backoff or the ack wait
// of a worker that is gone. NextAttemptAt and LastError come from the
// retries the workers list in their presence entries (each dropped once
// due), else, for tracked types, from the status record.
//
// Cost of a page of 50: the stream's and the consumers' infos (one
// request for one type, one a 256 types otherwise), one watch of the
// presence bucket, one batched direct get a type with deliveries not
// settled beyond those its live workers hold (sized to its share of the
// page plus what they hold; each makes the server count the type's
// messages after it), all at once, and for tracked types not listed by a
// worker one status read a task, at once. With 10 000 retrying tasks of one
// type that is 6 requests (BenchmarkStatePages) and up to 50 status reads,
// whatever the page: a page starts at the sequence where the previous one
// ended.
func (in *Inspector) retrying(ctx context.Context, q Query, tok cursor) (Page, *cursor, error) {
	work, err := in.stream(ctx, in.names.WorkStream())
	if err != nil || work == nil {
		return Page{}, nil, err
	}
	floors, err := in.floors(ctx, work, q)
	if err != nil {
		return Page{}, nil, err
	}
	maps.DeleteFunc(floors, func(_ string, f floor) bool { return f.unsettled == 0 })
	if len(floors) == 0 {
		return Page{}, nil, nil
	}
	l, err := in.live(ctx, q)
	if err != nil {
		return Page{}, nil, err
	}
	held := map[string]int{}
	for _, h := range l.held {
		held[in.names.TaskSubject(h.queue, h.task)]++
	}
	mt := newMatcher(q.Where)
	stream := work.CachedInfo().Config.Name
	// One reader a type, merged in stream order: each reads a share of the
	// page (plus what its workers hold) at first, more only as the merge
	// takes its messages.
	type head struct {
		sc          *scanner
		m           directget.Msg
		last        uint64
		queue, name string
	}
	var heads []*head
	advance := func(h *head) (bool, error) {
		m, ok, err := h.sc.next(ctx)
		if err != nil {
			return false, fmt.Errorf("inspect: read retrying tasks: %w", err)
		}
		h.m = m
		return ok && m.Seq <= h.last, nil
	}
	share := (q.Limit+1)/len(floors) + 1
	for _, subject := range slices.Sorted(maps.Keys(floors)) {
		f := floors[subject]
		if f.unsettled <= held[subject] {
			continue // every delivery not settled is in a live worker's hands
		}
		h := &head{last: f.delivered}
		h.queue, h.name, _ = in.names.ParseTaskSubject(subject) // floors has task subjects only
		if tok.UpTo > 0 {
			h.last = min(h.last, tok.UpTo)
		}
		from := max(f.acked, tok.After) + 1
		if from > h.last {
			continue
		}
		h.sc = newScanner(in.js, work, subject, from, q.Since, share+held[subject])
		heads = append(heads, h)
	}
	// Each type's first read, all at once.
	var wg sync.WaitGroup
	errs := make([]error, len(heads))
	some := make([]bool, len(heads))
	for i, h := range heads {
		wg.Go(func() { some[i], errs[i] = advance(h) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Page{}, nil, err
	}
	kept := heads[:0]
	for i, h := range heads {
		if some[i] {
			kept = append(kept, h)
		}
	}
	heads = kept
	var (
		p    Page
		next *cursor
	)
	for len(heads) > 0 {
		if p.Scanned >= q.Scan { // more to read: stop short
			p.Partial = len(p.Tasks) < q.Limit
			next = &cursor{After: heads[0].m.Seq - 1}
			for _, h := range heads {
				next.After = min(next.After, h.m.Seq-1)
			}
			break
		}
		i := 0
		for j, h := range heads {
			if h.m.Seq < heads[i].m.Seq {
				i = j
			}
		}
		h := heads[i]
		m := h.m
		p.Scanned++
		if _, running := l.held[m.Seq]; !running && mt.matches(m.Data) {
			if t := taskInfo(m, stream, h.queue, h.name, Retrying); within(q, t.EnqueuedAt) {
				if len(p.Tasks) == q.Limit {
					next = &cursor{After: p.Tasks[len(p.Tasks)-1].Seq}
					break
				}
				p.Tasks = append(p.Tasks, t)
			}
		}
		if ok, err := advance(h); err != nil {
			return Page{}, nil, err
		} else if !ok {
			heads = slices.Delete(heads, i, i+1)
		}
	}
	sts, err := in.statuses(ctx, p.Tasks, l.tracked)
	if err != nil {
		return Page{}, nil, err
	}
	for i := range p.Tasks {
		t := &p.Tasks[i]
		if r, ok := l.retries[t.Seq]; ok {
			t.Attempt, t.NextAttemptAt, t.LastError = r.Attempt, r.At, r.Error
		}
		if st, ok := sts[i]; ok {
			if t.Attempt == 0 {
				t.Attempt = st.Attempt
			}
			if st.State == status.Retrying && t.NextAttemptAt.IsZero() {
				t.NextAttemptAt = st.NextAttemptAt
			}
			if st.Error != "" {
				t.LastError = st.Error // the whole text, where the worker lists a line
			}
			t.Progress = st.Progress
		}
	}
	p.Note = l.note(Retrying)
	return p, next, nil
}
