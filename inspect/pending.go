package inspect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/directget"
)

// floor is where a task type's durable consumer stands: the tasks stored
// after delivered are pending, pending of them.
type floor struct {
	delivered, pending uint64
	consumer           bool
}

// floors returns the consumers' floors of the task types q keeps, by task
// subject; a type without a consumer has none.
func (in *Inspector) floors(ctx context.Context, work jetstream.Stream, q Query) (map[string]floor, error) {
	n := in.names
	out := map[string]floor{}
	take := func(ci *jetstream.ConsumerInfo) {
		queue, name, err := n.ParseTaskSubject(ci.Config.FilterSubject)
		if err != nil || ci.Config.Durable != n.Durable(queue, name) ||
			(q.Queue != "" && q.Queue != queue) || (q.Task != "" && q.Task != name) {
			return
		}
		out[ci.Config.FilterSubject] = floor{delivered: ci.Delivered.Stream, pending: ci.NumPending, consumer: true}
	}
	if q.Queue != "" && q.Task != "" {
		c, err := work.Consumer(ctx, n.Durable(q.Queue, q.Task))
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("inspect: consumer of %s: %w", q.Task, err)
		}
		take(c.CachedInfo())
		return out, nil
	}
	list := work.ListConsumers(ctx)
	for ci := range list.Info() {
		take(ci)
	}
	if err := list.Err(); err != nil {
		return nil, fmt.Errorf("inspect: list consumers: %w", err)
	}
	return out, nil
}

// pending lists the pending tasks: see [Inspector.Tasks].
func (in *Inspector) pending(ctx context.Context, q Query, tok cursor) (Page, *cursor, error) {
	work, err := in.stream(ctx, in.names.WorkStream())
	if err != nil || work == nil {
		return Page{}, nil, err
	}
	floors, err := in.floors(ctx, work, q)
	if err != nil {
		return Page{}, nil, err
	}
	base := in.names.Prefix() + ".task."
	filter := subjects(base, q)
	from := tok.After + 1
	if f, ok := floors[filter]; ok && tok.After == 0 {
		from = f.delivered + 1 // one type: start at its first pending task
	}
	batch := q.Limit + 1
	if q.Where != nil {
		batch = maxBatch
	}
	sc := newScanner(in.js, work, filter, from, q.Since, batch)
	mt := newMatcher(q.Where)
	var (
		p    Page
		next *cursor
		// seen counts the pending messages read per subject; at is its
		// count at each task of the page.
		seen = map[string]uint64{}
		at   []uint64
		msgs []directget.Msg
	)
	for {
		m, ok, err := sc.next(ctx)
		if err != nil {
			return Page{}, nil, fmt.Errorf("inspect: read pending tasks: %w", err)
		}
		if !ok || (tok.UpTo > 0 && m.Seq > tok.UpTo) || (!q.Until.IsZero() && !m.Stored.Before(q.Until)) {
			break
		}
		p.Scanned++
		queue, name, perr := in.names.ParseTaskSubject(m.Subject)
		pending := perr == nil && m.Seq > floors[m.Subject].delivered && !m.Stored.Before(q.Since)
		if pending {
			seen[m.Subject]++
		}
		if pending && mt.matches(m.Data) {
			if len(p.Tasks) == q.Limit {
				next = &cursor{After: p.Tasks[len(p.Tasks)-1].Seq}
				break
			}
			p.Tasks = append(p.Tasks, taskInfo(m, work.CachedInfo().Config.Name, queue, name, Pending))
			at = append(at, seen[m.Subject])
			msgs = append(msgs, m)
		}
		if p.Scanned >= q.Scan {
			if len(p.Tasks) < q.Limit {
				p.Partial = true
			}
			next = &cursor{After: m.Seq}
			break
		}
	}
	if sc.direct && len(p.Tasks) > 0 {
		if err := in.positions(ctx, work, filter, floors, p.Tasks, msgs, at); err != nil {
			return Page{}, nil, err
		}
	}
	return p, next, nil
}

// positions sets the Position of each task of a page of pending tasks,
// read with direct gets: a task's position is its type's pending count
// less the messages of its type stored after it. That count comes with
// each message of a direct get on one subject; on a list of several types
// it is read for the first task of each type on the page (one direct get
// of one message each, all at once), and the others follow from at.
func (in *Inspector) positions(ctx context.Context, work jetstream.Stream, filter string, floors map[string]floor, ts []TaskInfo, msgs []directget.Msg, at []uint64) error {
	type typeAt struct {
		first         int // index of the type's first task on the page
		after, before uint64
		err           error
	}
	types := map[string]*typeAt{}
	for i, m := range msgs {
		if types[m.Subject] == nil {
			types[m.Subject] = &typeAt{first: i}
		}
	}
	stream := work.CachedInfo().Config.Name
	// after reads how many messages of subject follow seq, and the message
	// at or after seq.
	after := func(ctx context.Context, subject string, seq uint64) (uint64, uint64, error) {
		got, _, err := directget.Batch(ctx, in.js, stream, directget.Request{Seq: seq, NextFor: subject, Batch: 1, MaxBytes: 1})
		if err != nil || len(got) == 0 {
			return 0, 0, err
		}
		n, _ := strconv.ParseUint(got[0].Header.Get(directget.NumPendingHeader), 10, 64)
		return n, got[0].Seq, nil
	}
	var wg sync.WaitGroup
	for subject, t := range types {
		f := floors[subject]
		m := msgs[t.first]
		if subject == filter && f.consumer {
			// One subject read: the count came with the message.
			t.after, _ = strconv.ParseUint(m.Header.Get(directget.NumPendingHeader), 10, 64)
			t.before = f.pending
			continue
		}
		wg.Go(func() {
			n, got, err := after(ctx, subject, m.Seq)
			if got != m.Seq && got != 0 {
				n++ // the task left meanwhile; count from the one after it
			}
			t.after, t.err = n, err
			t.before = f.pending
			if !f.consumer && err == nil {
				// No consumer: every message of the subject is pending.
				var first uint64
				if t.before, first, t.err = after(ctx, subject, 1); first != 0 {
					t.before++
				}
			}
		})
	}
	wg.Wait()
	for subject, t := range types {
		if t.err != nil {
			return fmt.Errorf("inspect: position of pending %s tasks: %w", subject, t.err)
		}
	}
	for i := range ts {
		t := types[msgs[i].Subject]
		first := uint64(1)
		if t.before > t.after {
			first = t.before - t.after
		}
		ts[i].Position = first + at[i] - at[t.first]
	}
	return nil
}
