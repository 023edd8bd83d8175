package inspect

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

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
// Cost of a page of 50: the consumers' infos (one request for one type,
// one a 256 types otherwise), one watch of the presence bucket, one
// batched direct get a type with tasks not settled (sized to the page
// plus what the type's workers hold), and for tracked types not listed by
// a worker one key-value get a task, at once. With 10 000 retrying tasks
// of one type that is 4 requests and up to 50 concurrent gets, whatever
// the page; the 200th page costs the same as the first, since a page
// starts at the sequence where the previous one ended.
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
	var (
		p     Page
		found []TaskInfo
		// stop is the sequence a type's read stopped at for the scan
		// bound; the page ends before the lowest.
		stop uint64
	)
	budget := q.Scan
	for _, subject := range slices.Sorted(maps.Keys(floors)) {
		f := floors[subject]
		queue, name, _ := in.names.ParseTaskSubject(subject) // floors has task subjects only
		from := max(f.acked, tok.After) + 1
		last := f.delivered
		if tok.UpTo > 0 {
			last = min(last, tok.UpTo)
		}
		if from > last {
			continue
		}
		sc := newScanner(in.js, work, subject, from, q.Since, q.Limit+1+held[subject])
		kept := 0
		for kept <= q.Limit {
			m, ok, err := sc.next(ctx)
			if err != nil {
				return Page{}, nil, fmt.Errorf("inspect: read retrying tasks: %w", err)
			}
			if !ok || m.Seq > last || (stop != 0 && m.Seq >= stop) {
				break
			}
			p.Scanned++
			budget--
			if _, running := l.held[m.Seq]; !running && mt.matches(m.Data) {
				if t := taskInfo(m, stream, queue, name, Retrying); within(q, t.EnqueuedAt) {
					found = append(found, t)
					kept++
				}
			}
			if budget <= 0 {
				stop = m.Seq // read no further in any type
				break
			}
		}
	}
	slices.SortFunc(found, func(a, b TaskInfo) int { return cmp.Compare(a.Seq, b.Seq) })
	if stop != 0 {
		found = slices.DeleteFunc(found, func(t TaskInfo) bool { return t.Seq > stop })
	}
	var next *cursor
	switch {
	case len(found) > q.Limit:
		found = found[:q.Limit]
		next = &cursor{After: found[len(found)-1].Seq}
	case stop != 0:
		p.Partial = true
		next = &cursor{After: stop}
	}
	p.Tasks = found
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
