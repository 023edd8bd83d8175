package inspect

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/directget"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// HistoryQuery selects the history [Inspector.History] returns.
type HistoryQuery struct {
	// Window is how far back to read, at most an hour; 0 means an hour.
	Window time.Duration
	// Queue and Task keep one queue or task type; empty keeps every one.
	Queue, Task string
}

// History is what a deployment did over a window, one point a step, read
// from the samples the workers write to the JETQ_HISTORY stream (see the
// consumer package's WithHistoryInterval). A deployment whose workers
// wrote none yet, or that only runs workers older than the history, has
// no points.
type History struct {
	// Window is how far back it goes.
	Window time.Duration `json:"window"`
	// Step is the workers' step, a minute by default; 0 with no points.
	Step time.Duration `json:"step"`
	// Points are the query's task types together, oldest first. A step in
	// which no worker ran has no point.
	Points []Point `json:"points"`
	// Types are the query's task types one by one, sorted by queue then
	// task.
	Types []TypeHistory `json:"types"`
}

// TypeHistory is the history of one task type.
type TypeHistory struct {
	Queue string `json:"queue"`
	Task  string `json:"task"`
	// Started counts the tasks begun for the first time over the window;
	// WaitP50 and WaitP99 are how long they had waited.
	Started uint64        `json:"started"`
	WaitP50 time.Duration `json:"wait_p50"`
	WaitP99 time.Duration `json:"wait_p99"`
	// OldestPendingAge is the age of the oldest pending task at the last
	// step's end.
	OldestPendingAge time.Duration `json:"oldest_pending_age"`
	Points           []Point       `json:"points"`
}

// Point is one step of a [History]. Durations are in nanoseconds in JSON.
//
// Counted over the whole deployment, Enqueued and DeadLettered are exact:
// the growth of the work stream's and the dead-letter stream's last
// sequences. Counted per task type, they are read from what the server
// keeps per subject: Enqueued is the tasks started plus the growth of the
// pending ones (a pending task deleted in the step hides one enqueued), and
// DeadLettered the growth of the type's dead-letter records, or the records
// its workers filed if more (a record replayed or deleted in the step
// hides one filed by the forwarder). Succeeded, Failed and Started are
// what the workers counted. After steps in which no worker ran, the first
// step's Enqueued and DeadLettered hold what grew over the gap.
type Point struct {
	// At is the step's end.
	At time.Time `json:"at"`
	// Enqueued counts the tasks stored in the work stream in the step:
	// enqueued, or fired when delayed.
	Enqueued uint64 `json:"enqueued"`
	// Started counts the tasks begun for the first time.
	Started uint64 `json:"started"`
	// Succeeded counts the tasks done; Failed the failed attempts, retried
	// or dead-lettered; DeadLettered the records filed.
	Succeeded    uint64 `json:"succeeded"`
	Failed       uint64 `json:"failed"`
	DeadLettered uint64 `json:"dead_lettered"`
	// OldestPendingAge is the age of the oldest pending task at the step's
	// end.
	OldestPendingAge time.Duration `json:"oldest_pending_age"`
	// WaitP50 and WaitP99 are how long the tasks started in the step had
	// waited in the work stream, read from histograms whose neighbouring
	// bounds differ by √2: within 19% of the true value. Zero when none
	// started.
	WaitP50 time.Duration `json:"wait_p50"`
	WaitP99 time.Duration `json:"wait_p99"`
}

// History returns what the deployment did over q.Window, from the samples
// its workers wrote: one read of a few direct-get requests (256 samples
// each) of the JETQ_HISTORY stream, which it does not create. It returns an
// error wrapping [ErrInvalidQuery] for a window out of range or an invalid
// queue or task name.
func (in *Inspector) History(ctx context.Context, q HistoryQuery) (History, error) {
	if err := q.check(); err != nil {
		return History{}, err
	}
	h := History{Window: cmp.Or(q.Window, wire.HistoryWindow), Points: []Point{}, Types: []TypeHistory{}}
	s, err := in.js.Stream(ctx, in.names.HistoryStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return h, nil // no worker wrote history yet
	}
	if err != nil {
		return h, fmt.Errorf("inspect: history: %w", err)
	}
	if !s.CachedInfo().Config.AllowDirect {
		return h, fmt.Errorf("inspect: history: stream %s does not allow direct gets; allow them (nats stream edit %s --allow-direct) or delete it for the workers to make it again", s.CachedInfo().Config.Name, s.CachedInfo().Config.Name)
	}
	now := time.Now()
	// One step of the longest before the window: the first step's growth.
	samples, err := in.readHistory(ctx, now.Add(-h.Window-wire.MaxHistoryStep))
	if err != nil {
		return h, err
	}
	samples.build(&h, q, now.Add(-h.Window))
	return h, nil
}

func (q HistoryQuery) check() error {
	if q.Window < 0 || q.Window > wire.HistoryWindow {
		return fmt.Errorf("%w: window %v: history goes back between 0 (an hour) and %v", ErrInvalidQuery, q.Window, wire.HistoryWindow)
	}
	if q.Queue != "" {
		if err := tasks.ValidateQueue(q.Queue); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
	}
	if q.Task != "" {
		if err := tasks.ValidateName(q.Task); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
	}
	return nil
}

func (q HistoryQuery) keeps(k histKey) bool {
	return (q.Queue == "" || q.Queue == k.queue) && (q.Task == "" || q.Task == k.task)
}

// historyBatch and historyBatchBytes bound one direct get of samples.
const (
	historyBatch      = 256
	historyBatchBytes = 4 << 20
)

type histKey struct{ queue, task string }

// samples are the history samples read: the workers' by step end, and the
// states in the order written.
type samples struct {
	work   map[time.Time]map[histKey]*stepWork
	states []wire.HistoryState
	step   time.Duration
}

// stepWork is what the workers did with one task type in one step.
type stepWork struct {
	started, succeeded, failed, deadLettered uint64
	wait                                     [wire.WaitBuckets]uint64
}

func (in *Inspector) readHistory(ctx context.Context, from time.Time) (*samples, error) {
	n := in.names
	out := &samples{work: map[time.Time]map[histKey]*stepWork{}}
	req := directget.Request{StartTime: &from, NextFor: n.HistorySubjects(), Batch: historyBatch, MaxBytes: historyBatchBytes}
	for {
		msgs, more, err := directget.Batch(ctx, in.js, n.HistoryStream(), req)
		if err != nil {
			return nil, fmt.Errorf("inspect: read history: %w", err)
		}
		for _, m := range msgs {
			out.add(n, m)
			req.StartTime, req.Seq = nil, m.Seq+1
		}
		if !more || len(msgs) == 0 {
			return out, nil
		}
	}
}

// add takes in one sample; one it cannot read, from a later release, is
// left out.
func (s *samples) add(n wire.Names, m directget.Msg) {
	if m.Subject == n.HistoryStateSubject() {
		var st wire.HistoryState
		if json.Unmarshal(m.Data, &st) == nil && !st.At.IsZero() {
			s.states = append(s.states, st)
			s.step = st.Step
		}
		return
	}
	if !strings.HasPrefix(m.Subject, strings.TrimSuffix(n.HistoryWorkerSubjects(), "*")) {
		return
	}
	var ws wire.HistorySample
	if json.Unmarshal(m.Data, &ws) != nil || ws.At.IsZero() {
		return
	}
	s.step = ws.Step
	at := ws.At.UTC()
	byType := s.work[at]
	if byType == nil {
		byType = map[histKey]*stepWork{}
		s.work[at] = byType
	}
	for _, t := range ws.Tasks {
		k := histKey{t.Queue, t.Task}
		sw := byType[k]
		if sw == nil {
			sw = &stepWork{}
			byType[k] = sw
		}
		sw.started += t.Started
		sw.succeeded += t.Succeeded
		sw.failed += t.Failed
		sw.deadLettered += t.DeadLettered
		for b, c := range t.Wait {
			if b >= 0 && b < wire.WaitBuckets {
				sw.wait[b] += c
			}
		}
	}
}

// build fills h with the points of the steps that end after since.
func (s *samples) build(h *History, q HistoryQuery, since time.Time) {
	h.Step = s.step
	slices.SortStableFunc(s.states, func(a, b wire.HistoryState) int { return a.At.Compare(b.At) })
	// The steps, and the state at each step's end and the one before.
	states := map[time.Time][2]*wire.HistoryState{}
	var ends []time.Time
	for i := range s.states {
		st := &s.states[i]
		at := st.At.UTC()
		if _, dup := states[at]; dup || !at.After(since) {
			continue
		}
		pair := [2]*wire.HistoryState{st, nil}
		if i > 0 {
			pair[1] = &s.states[i-1]
		}
		states[at] = pair
		ends = append(ends, at)
	}
	for at, byType := range s.work {
		if _, ok := states[at]; ok || !at.After(since) {
			continue
		}
		for k := range byType {
			if q.keeps(k) {
				ends = append(ends, at)
				break
			}
		}
	}
	slices.SortFunc(ends, time.Time.Compare)
	ends = slices.Compact(ends)

	// Every task type the query keeps that appears anywhere.
	keys := map[histKey]bool{}
	for _, at := range ends {
		for k := range s.work[at] {
			keys[k] = q.keeps(k)
		}
		if st := states[at][0]; st != nil {
			for _, g := range st.Tasks {
				keys[histKey{g.Queue, g.Task}] = q.keeps(histKey{g.Queue, g.Task})
			}
		}
	}
	for k, kept := range keys {
		if !kept {
			continue
		}
		th := TypeHistory{Queue: k.queue, Task: k.task, Points: make([]Point, 0, len(ends))}
		var all [wire.WaitBuckets]uint64
		for _, at := range ends {
			p, sw := s.typePoint(k, at, states[at])
			th.Points = append(th.Points, p)
			if sw != nil {
				th.Started += sw.started
				addWaits(&all, &sw.wait)
			}
			if states[at][0] != nil {
				th.OldestPendingAge = p.OldestPendingAge
			}
		}
		th.WaitP50, th.WaitP99 = percentile(&all, 0.50), percentile(&all, 0.99)
		h.Types = append(h.Types, th)
	}
	slices.SortFunc(h.Types, func(a, b TypeHistory) int {
		return cmp.Or(cmp.Compare(a.Queue, b.Queue), cmp.Compare(a.Task, b.Task))
	})
	for i, at := range ends {
		p := Point{At: at}
		var all [wire.WaitBuckets]uint64
		for _, th := range h.Types {
			tp := th.Points[i]
			p.Enqueued += tp.Enqueued
			p.Started += tp.Started
			p.Succeeded += tp.Succeeded
			p.Failed += tp.Failed
			p.DeadLettered += tp.DeadLettered
			p.OldestPendingAge = max(p.OldestPendingAge, tp.OldestPendingAge)
			if sw := s.work[at][histKey{th.Queue, th.Task}]; sw != nil {
				addWaits(&all, &sw.wait)
			}
		}
		if cur, prev := states[at][0], states[at][1]; q.Queue == "" && q.Task == "" && cur != nil && prev != nil {
			// The whole deployment: what the streams counted, exactly.
			p.Enqueued = growth(cur.Stored, prev.Stored)
			p.DeadLettered = growth(cur.Filed, prev.Filed)
		}
		p.WaitP50, p.WaitP99 = percentile(&all, 0.50), percentile(&all, 0.99)
		h.Points = append(h.Points, p)
	}
}

// typePoint is task type k's point of the step that ends at at, and what
// the workers did with it in the step, if anything.
func (s *samples) typePoint(k histKey, at time.Time, st [2]*wire.HistoryState) (Point, *stepWork) {
	p := Point{At: at}
	sw := s.work[at][k]
	if sw != nil {
		p.Started, p.Succeeded, p.Failed, p.DeadLettered = sw.started, sw.succeeded, sw.failed, sw.deadLettered
		p.WaitP50, p.WaitP99 = percentile(&sw.wait, 0.50), percentile(&sw.wait, 0.99)
	}
	cur, prev := gauges(st[0], k), gauges(st[1], k)
	if cur == nil {
		return p, sw
	}
	if !cur.OldestPending.IsZero() {
		p.OldestPendingAge = max(at.Sub(cur.OldestPending), 0)
	}
	if prev != nil {
		// pending now = pending before + enqueued − started
		p.Enqueued = less(p.Started+cur.Pending, prev.Pending)
		p.DeadLettered = max(p.DeadLettered, less(cur.DeadLettered, prev.DeadLettered))
	}
	return p, sw
}

func gauges(st *wire.HistoryState, k histKey) *wire.HistoryGauges {
	if st == nil {
		return nil
	}
	for i := range st.Tasks {
		if st.Tasks[i].Queue == k.queue && st.Tasks[i].Task == k.task {
			return &st.Tasks[i]
		}
	}
	return &wire.HistoryGauges{Queue: k.queue, Task: k.task} // nothing pending, no records
}

// less is a − b, or 0 when b is more.
func less(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// growth is how much a count grew from was to now; one that shrank (a
// stream deleted and made again) grew by now.
func growth(now, was uint64) uint64 {
	if now < was {
		return now
	}
	return now - was
}

func addWaits(to, from *[wire.WaitBuckets]uint64) {
	for i := range to {
		to[i] += from[i]
	}
}

// percentile is the wait below which the fraction p of the counted waits
// fall, as its bucket's middle; 0 when none is counted.
func percentile(ws *[wire.WaitBuckets]uint64, p float64) time.Duration {
	var total uint64
	for _, c := range ws {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(p*float64(total-1)) + 1 // 1-based rank of the sample
	var seen uint64
	for i, c := range ws {
		seen += c
		if seen >= rank {
			return wire.WaitValue(i)
		}
	}
	return wire.WaitValue(wire.WaitBuckets - 1)
}
