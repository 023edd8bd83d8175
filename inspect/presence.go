package inspect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/directget"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
)

// presences reads every live presence entry.
func (in *Inspector) presences(ctx context.Context) ([]wire.Presence, error) {
	kv, err := in.js.KeyValue(ctx, in.names.WorkersBucket())
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect: presence bucket: %w", err)
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("inspect: read presence: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []wire.Presence
	for {
		var e jetstream.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e == nil {
			return out, nil // every live entry seen
		}
		var p wire.Presence
		if json.Unmarshal(e.Value(), &p) == nil {
			out = append(out, p)
		}
	}
}

// live is what the live workers hold and the retries they set, as their
// presence entries say, for the task types a query keeps.
type live struct {
	// held are the deliveries in workers' hands, by work stream sequence.
	held map[uint64]heldBy
	// retries are the retries workers set and still to come, by sequence.
	retries map[uint64]wire.PresenceRetry
	// unlisted counts the deliveries held by workers too old to list
	// them, by type (queue/task); they hold Unlisted in all.
	unlisted map[string]int
	Unlisted int
	// tracked holds the types (queue/task) whose status is recorded.
	tracked map[string]bool
}

// heldBy is a delivery in a worker's hands.
type heldBy struct {
	worker, queue, task string
	d                   wire.PresenceDelivery
}

func typeKey(queue, task string) string { return queue + "/" + task }

// live reads the presence entries of the live workers for the types q
// keeps.
func (in *Inspector) live(ctx context.Context, q Query) (live, error) {
	ps, err := in.presences(ctx)
	if err != nil {
		return live{}, err
	}
	l := live{held: map[uint64]heldBy{}, retries: map[uint64]wire.PresenceRetry{}, unlisted: map[string]int{}, tracked: map[string]bool{}}
	for _, p := range ps {
		for _, t := range p.Tasks {
			if (q.Queue != "" && t.Queue != q.Queue) || (q.Task != "" && t.Task != q.Task) {
				continue
			}
			k := typeKey(t.Queue, t.Task)
			if t.Tracked {
				l.tracked[k] = true
			}
			for _, d := range t.Deliveries {
				l.held[d.Seq] = heldBy{worker: p.ID, queue: t.Queue, task: t.Task, d: d}
			}
			if n := t.Held - len(t.Deliveries); n > 0 {
				l.unlisted[k] += n
				l.Unlisted += n
			}
			for _, r := range t.Retries {
				if old, ok := l.retries[r.Seq]; !ok || r.Attempt > old.Attempt {
					l.retries[r.Seq] = r
				}
			}
		}
	}
	return l, nil
}

// note is what a page of st, running or retrying tasks, says of the
// deliveries that workers too old to list them hold.
func (l live) note(st State) string {
	if l.Unlisted == 0 {
		return ""
	}
	var b strings.Builder
	if st == Retrying {
		fmt.Fprintf(&b, "%d task(s) held by workers of a release that does not list its deliveries in its presence entry may show here although they run (", l.Unlisted)
	} else {
		fmt.Fprintf(&b, "%d running task(s) not listed: held by workers of a release that does not list its deliveries in its presence entry (", l.Unlisted)
	}
	for i, k := range slices.Sorted(maps.Keys(l.unlisted)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %d", k, l.unlisted[k])
	}
	b.WriteString("); upgrade those workers to tell them apart")
	return b.String()
}

// messages reads the messages at seqs of the work stream, several at once;
// a message gone meanwhile is left out.
func (in *Inspector) messages(ctx context.Context, seqs []uint64) (map[uint64]directget.Msg, error) {
	work, err := in.stream(ctx, in.names.WorkStream())
	if err != nil || work == nil {
		return nil, err
	}
	var (
		mu    sync.Mutex
		out   = make(map[uint64]directget.Msg, len(seqs))
		first error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 16)
	)
	for _, seq := range seqs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			m, err := work.GetMsg(ctx, seq)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				out[seq] = rawMsg(m)
			case errors.Is(err, jetstream.ErrMsgNotFound):
			case first == nil:
				first = err
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, fmt.Errorf("inspect: read tasks: %w", first)
	}
	return out, nil
}

// statuses reads the status records of the tasks ts of tracked types, at
// once, by index in ts; a task without a record is left out.
func (in *Inspector) statuses(ctx context.Context, ts []TaskInfo, tracked map[string]bool) (map[int]status.Status, error) {
	out := map[int]status.Status{}
	var want []int
	for i, t := range ts {
		if tracked[typeKey(t.Queue, t.Task)] {
			want = append(want, i)
		}
	}
	if len(want) == 0 {
		return out, nil
	}
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for _, i := range want {
		wg.Go(func() {
			st, _, err := in.states.Read(ctx, ts[i].ID)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				out[i] = st
			case errors.Is(err, status.ErrNotFound):
			case first == nil:
				first = err
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, fmt.Errorf("inspect: read task status: %w", first)
	}
	return out, nil
}
