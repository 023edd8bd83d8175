package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jetq/jetq/internal/directget"
	"github.com/jetq/jetq/status"
)

// completedWindow is how many status records one read of the completed
// list brings at most.
const completedWindow = 512

// completed lists the tasks that succeeded, newest first, from the status
// records of the task types that keep their final outcome
// (tasks.WithRetention) or track their status (tasks.WithStateTracking):
// the status bucket's stream keeps one record a task, its latest, in the
// order they were written, so it is read from its end backwards, in
// batched direct gets of up to 512 records, keeping the records that say
// done; Page.Scanned says how many it read and Page.Note how far that went
// and which live task types keep no record. A completed task's message is
// gone from the work stream: its Seq is 0, and Where, which needs the
// payload, is refused.
func (in *Inspector) completed(ctx context.Context, q Query, tok cursor) (Page, *cursor, error) {
	if q.Where != nil {
		return Page{}, nil, fmt.Errorf("%w: the completed list has no payloads to match (a status record holds none): drop the payload filter", ErrInvalidQuery)
	}
	bucket := in.names.StatusBucket()
	st, err := in.stream(ctx, "KV_"+bucket)
	if err != nil {
		return Page{}, nil, err
	}
	if st == nil {
		note := "no task type keeps its final outcome yet: give a definition tasks.WithRetention(24*time.Hour) to list its completed tasks"
		if n := in.unkept(ctx, q); n != "" {
			note += "; " + n
		}
		return Page{Note: note}, nil, nil
	}
	state := st.CachedInfo().State
	hi := state.LastSeq
	if tok.After != 0 {
		hi = tok.After - 1
	}
	var (
		p    Page
		next *cursor
		last uint64 // the last record read
	)
	name := st.CachedInfo().Config.Name
read:
	for hi >= max(state.FirstSeq, 1) && hi > 0 {
		lo := max(state.FirstSeq, 1)
		if hi >= completedWindow && hi-completedWindow+1 > lo {
			lo = hi - completedWindow + 1
		}
		msgs, err := in.window(ctx, name, "$KV."+bucket+".>", lo, hi)
		if err != nil {
			return Page{}, nil, fmt.Errorf("inspect: read completed tasks: %w", err)
		}
		for i := len(msgs) - 1; i >= 0; i-- {
			m := msgs[i]
			var s status.Status
			if json.Unmarshal(m.Data, &s) == nil && s.State == status.Done &&
				(q.Queue == "" || q.Queue == s.Queue) && (q.Task == "" || q.Task == s.Task) && within(q, s.EnqueuedAt) {
				if len(p.Tasks) == q.Limit {
					next = &cursor{After: last}
					break read
				}
				p.Tasks = append(p.Tasks, finished(s, Completed))
			}
			p.Scanned++
			last = m.Seq
			if p.Scanned >= q.Scan && m.Seq > state.FirstSeq {
				p.Partial = len(p.Tasks) < q.Limit
				next = &cursor{After: m.Seq}
				break read
			}
		}
		hi = lo - 1
	}
	p.Note = fmt.Sprintf("read %d of %d status records, newest first (only task types with tasks.WithRetention or tasks.WithStateTracking keep a record of a success)",
		p.Scanned, state.Msgs)
	if n := in.unkept(ctx, q); n != "" {
		p.Note += "; " + n
	}
	return p, next, nil
}

// finished is the TaskInfo of a task whose final status record is s,
// listed as state: its attempts, when its last attempt ran and for how
// long, its error and the size of its result.
func finished(s status.Status, state State) TaskInfo {
	t := TaskInfo{ID: s.ID, Task: s.Task, Queue: s.Queue, State: state, EnqueuedAt: s.EnqueuedAt, Attempt: s.Attempt,
		StartedAt: s.StartedAt, FinishedAt: settledAt(s), Reason: s.Reason, Error: s.Error, ResultSize: s.ResultSize, Progress: s.Progress}
	if !t.StartedAt.IsZero() && t.FinishedAt.After(t.StartedAt) {
		t.Duration = t.FinishedAt.Sub(t.StartedAt)
	}
	return t
}

// unkept names the task types that live workers serve, of those q keeps,
// that keep no record of a success, with how to make them keep one; ""
// when there are none, or the presence entries cannot be read (the list
// stands without it).
func (in *Inspector) unkept(ctx context.Context, q Query) string {
	ps, err := in.presences(ctx)
	if err != nil {
		return ""
	}
	seen := map[string]bool{}
	var none []string
	for _, p := range ps {
		for _, t := range p.Tasks {
			k := typeKey(t.Queue, t.Task)
			if (q.Queue != "" && t.Queue != q.Queue) || (q.Task != "" && t.Task != q.Task) || seen[k] {
				continue
			}
			seen[k] = true
			if !t.Tracked && t.Retention == 0 {
				none = append(none, k)
			}
		}
	}
	if len(none) == 0 {
		return ""
	}
	slices.Sort(none)
	return fmt.Sprintf("not listed, as they keep no record of a success: %s; give their definitions tasks.WithRetention(24*time.Hour) to list them",
		strings.Join(none, ", "))
}

// window reads the messages on subject of stream between lo and hi, in
// one batched direct get where it can.
func (in *Inspector) window(ctx context.Context, stream, subject string, lo, hi uint64) ([]directget.Msg, error) {
	var out []directget.Msg
	for lo <= hi {
		msgs, more, err := directget.Batch(ctx, in.js, stream, directget.Request{Seq: lo, NextFor: subject, Batch: int(hi - lo + 1), MaxBytes: maxBatchBytes})
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Seq > hi {
				return out, nil
			}
			out = append(out, m)
		}
		if !more || len(msgs) == 0 {
			return out, nil
		}
		lo = msgs[len(msgs)-1].Seq + 1
	}
	return out, nil
}

// failed lists the dead-lettered tasks, newest first, from the
// dead-letter stream: batched direct gets from where the previous page
// ended, on the subject of the types q keeps, the server filtering by
// type; a time range or payload match is applied to each record read.
func (in *Inspector) failed(ctx context.Context, q Query, tok cursor) (Page, *cursor, error) {
	mt := newMatcher(q.Where)
	var p Page
	after := tok.After
	for {
		dp, err := in.DeadLetterPage(ctx, DeadLetterFilter{Task: q.Task, Queue: q.Queue, Order: NewestFirst,
			After: after, Limit: q.Limit + 1 - len(p.Tasks), MaxRead: q.Scan - p.Scanned})
		if err != nil {
			return Page{}, nil, fmt.Errorf("inspect: read failed tasks: %w", err)
		}
		p.Scanned += dp.Read
		for _, e := range dp.Entries {
			if !mt.matches(e.Payload) || !within(q, e.EnqueuedAt) {
				continue
			}
			if len(p.Tasks) == q.Limit {
				return p, &cursor{After: p.Tasks[len(p.Tasks)-1].Seq}, nil
			}
			p.Tasks = append(p.Tasks, TaskInfo{ID: e.ID, Task: e.Task, Queue: e.Queue, State: Failed, Seq: e.Seq,
				EnqueuedAt: e.EnqueuedAt, Attempt: e.Deliveries, FinishedAt: e.FailedAt, Reason: e.Reason, Error: e.Error,
				Header: e.Header, Payload: e.Payload})
		}
		switch {
		case dp.Next == 0:
			return p, nil, nil
		case p.Scanned >= q.Scan:
			p.Partial = len(p.Tasks) < q.Limit
			return p, &cursor{After: dp.Next}, nil
		}
		after = dp.Next
	}
}
