package inspect

import (
	"context"
	"slices"
	"time"

	"github.com/jetq/jetq/internal/directget"
)

// running lists the running tasks: the deliveries live workers hold, as
// their presence entries list them, in work stream order. A delivery
// waiting in a worker's prefetch, about to start, is listed with a zero
// StartedAt. The entries are read in one watch of the presence bucket;
// the page's messages (for the enqueue time, header and payload) in one
// get each, at once; for tracked types, the progress from their status
// records, one key-value get each, at once: about 2 + 2×50 requests for
// a page of 50, all but two of them concurrent. Workers of a release that
// does not list its deliveries are counted in Page.Note.
func (in *Inspector) running(ctx context.Context, q Query, tok cursor) (Page, *cursor, error) {
	l, err := in.live(ctx, q)
	if err != nil {
		return Page{}, nil, err
	}
	seqs := make([]uint64, 0, len(l.held))
	for seq := range l.held {
		if seq > tok.After && (tok.UpTo == 0 || seq <= tok.UpTo) {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	p := Page{Note: l.note(Running)}
	next, err := in.pageOf(ctx, q, seqs, &p, func(t *TaskInfo) {
		h := l.held[t.Seq]
		t.State, t.Worker, t.Attempt, t.StartedAt = Running, h.worker, h.d.Attempt, h.d.Started
	})
	if err != nil {
		return Page{}, nil, err
	}
	sts, err := in.statuses(ctx, p.Tasks, l.tracked)
	if err != nil {
		return Page{}, nil, err
	}
	for i, st := range sts {
		p.Tasks[i].Progress = st.Progress
	}
	return p, next, nil
}

// pageOf fills p with the tasks of the work stream messages at seqs, in
// that order, that q keeps, each completed by fill; a message gone
// meanwhile (its task settled) is left out. The messages are read a page
// at a time, all of a page at once.
func (in *Inspector) pageOf(ctx context.Context, q Query, seqs []uint64, p *Page, fill func(*TaskInfo)) (*cursor, error) {
	mt := newMatcher(q.Where)
	stream := in.names.WorkStream()
	var msgs map[uint64]directget.Msg
	for i, seq := range seqs {
		if i%(q.Limit+1) == 0 {
			var err error
			if msgs, err = in.messages(ctx, seqs[i:min(len(seqs), i+q.Limit+1)]); err != nil {
				return nil, err
			}
		}
		m, ok := msgs[seq]
		if !ok {
			continue
		}
		p.Scanned++
		queue, name, err := in.names.ParseTaskSubject(m.Subject)
		keep := err == nil && (q.Queue == "" || q.Queue == queue) && (q.Task == "" || q.Task == name) && mt.matches(m.Data)
		if t := taskInfo(m, stream, queue, name, ""); keep && within(q, t.EnqueuedAt) {
			if len(p.Tasks) == q.Limit {
				return &cursor{After: p.Tasks[len(p.Tasks)-1].Seq}, nil
			}
			fill(&t)
			p.Tasks = append(p.Tasks, t)
		}
		if p.Scanned >= q.Scan && i < len(seqs)-1 {
			p.Partial = len(p.Tasks) < q.Limit
			return &cursor{After: seq}, nil
		}
	}
	return nil, nil
}

// within reports whether a task enqueued at t is in q's time range.
func within(q Query, t time.Time) bool {
	return (q.Since.IsZero() || !t.Before(q.Since)) && (q.Until.IsZero() || t.Before(q.Until))
}
