package inspect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/directget"
)

// floor is where a task type's durable consumer stands: the tasks stored
// after delivered are pending, pending of them; those stored after acked
// and up to delivered are delivered and not all settled (running or
// retrying), unsettled of them.
type floor struct {
	delivered, pending uint64
	acked              uint64
	unsettled          int
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
		out[ci.Config.FilterSubject] = floor{delivered: ci.Delivered.Stream, pending: ci.NumPending,
			acked: ci.AckFloor.Stream, unsettled: ci.NumAckPending, consumer: true}
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
	if tok.After == 0 {
		if from, err = in.firstPending(ctx, work, filter, floors); err != nil {
			return Page{}, nil, err
		}
	}
	batch := q.Limit + 1
	if q.Where != nil {
		batch = maxBatch
	}
	since := q.Since
	if tok.After > 0 {
		since = time.Time{} // the token's place is after it
	}
	sc := newScanner(in.js, work, filter, from, since, batch)
	stream := work.CachedInfo().Config.Name
	// seen counts the pending messages read per subject; each task's
	// Position holds the count at it until its type's base is added.
	seen := map[string]uint64{}
	p, next, msgs, extra, err := collect(ctx, sc, q, tok, func(m directget.Msg) (TaskInfo, bool) {
		queue, name, err := in.names.ParseTaskSubject(m.Subject)
		if err != nil || m.Seq <= floors[m.Subject].delivered {
			return TaskInfo{}, false
		}
		seen[m.Subject]++
		t := taskInfo(m, stream, queue, name, Pending)
		t.Position = seen[m.Subject]
		return t, true
	})
	if err != nil {
		return Page{}, nil, fmt.Errorf("inspect: read pending tasks: %w", err)
	}
	if extra != nil {
		seen[extra.Subject]-- // the next page reads it again
	}
	// bases holds, per subject, how many of the type's pending tasks come
	// before this page's read: none on a list read from the start, what
	// the previous page counted, or else what the server says.
	bases := map[string]uint64{}
	for k, n := range tok.Counts {
		bases[base+k] = n
	}
	if tok.After == 0 && q.Since.IsZero() {
		for subject := range floors {
			bases[subject] = 0
		}
		for subject := range seen {
			bases[subject] = 0
		}
	}
	if sc.direct {
		if err := in.bases(ctx, work, filter, floors, p.Tasks, msgs, bases); err != nil {
			return Page{}, nil, err
		}
	}
	for i := range p.Tasks {
		if b, ok := bases[msgs[i].Subject]; ok {
			p.Tasks[i].Position += b
		} else {
			p.Tasks[i].Position = 0 // not known without direct gets
		}
	}
	if next != nil && len(bases) <= maxCounts {
		next.Counts = make(map[string]uint64, len(bases))
		for subject, b := range bases {
			next.Counts[strings.TrimPrefix(subject, base)] = b + seen[subject]
		}
	}
	return p, next, nil
}

// maxCounts bounds the task types whose counts a page token carries; the
// pages of a list of more types ask the server for their positions.
const maxCounts = 64

// firstPending is the sequence the pending tasks on filter start from:
// the lowest of their types' first pending tasks, each the first after its
// consumer's last delivery, or, for a type no worker has served yet, its
// first message (one direct get each such type). Starting there, the list
// skips the tasks delivered before it, such as those waiting to be
// retried, rather than spending its scan bound on them.
func (in *Inspector) firstPending(ctx context.Context, work jetstream.Stream, filter string, floors map[string]floor) (uint64, error) {
	if f, ok := floors[filter]; ok {
		return f.delivered + 1, nil // one type
	}
	info, err := work.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("inspect: read the work stream's subjects: %w", err)
	}
	from := uint64(0)
	for subject := range info.State.Subjects {
		first := floors[subject].delivered + 1
		if _, ok := floors[subject]; !ok {
			m, err := work.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subject))
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue // taken meanwhile
			}
			if err != nil {
				return 0, fmt.Errorf("inspect: read the first task of %s: %w", subject, err)
			}
			first = m.Sequence
		}
		if from == 0 || first < from {
			from = first
		}
	}
	return max(from, 1), nil
}

// bases adds to bases, for each type with tasks on a page of pending
// tasks that it lacks, how many of its pending tasks come before the
// page's read, read with direct gets: a task's position is its type's
// pending count less the messages of its type stored after it. That count
// comes with each message of a direct get on one subject; on a list of
// several types it is read for the first task of the type on the page
// (one direct get of one message each, all at once). Each task's
// Position holds the count of its type's pending tasks read up to it.
func (in *Inspector) bases(ctx context.Context, work jetstream.Stream, filter string, floors map[string]floor, ts []TaskInfo, msgs []directget.Msg, bases map[string]uint64) error {
	type typeAt struct {
		first          int // index of the type's first task on the page
		after, pending uint64
		err            error
	}
	types := map[string]*typeAt{}
	for i, m := range msgs {
		if _, ok := bases[m.Subject]; !ok && types[m.Subject] == nil {
			types[m.Subject] = &typeAt{first: i}
		}
	}
	if len(types) == 0 {
		return nil
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
			t.pending = f.pending
			continue
		}
		wg.Go(func() {
			n, got, err := after(ctx, subject, m.Seq)
			if got != m.Seq && got != 0 {
				n++ // the task left meanwhile; count from the one after it
			}
			t.after, t.err = n, err
			t.pending = f.pending
			if !f.consumer && err == nil {
				// No consumer: every message of the subject is pending.
				var first uint64
				if t.pending, first, t.err = after(ctx, subject, 1); first != 0 {
					t.pending++
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
	for subject, t := range types {
		first := uint64(1)
		if t.pending > t.after {
			first = t.pending - t.after
		}
		bases[subject] = first - min(first, ts[t.first].Position)
	}
	return nil
}
