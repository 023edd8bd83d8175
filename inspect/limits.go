package inspect

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/directget"
	"github.com/jetq/jetq/internal/ratelimit"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// TopKeys is how many keys [Limits] lists per limit, the busiest first.
const TopKeys = 10

// MaxLimitKeys bounds the keys [Inspector.Limits] reads of one limit: the
// counters of a key rate limit's current window, or the places of a
// concurrency per key. Past it the counts are of the keys read and
// Partial is set.
const MaxLimitKeys = 10000

// Limits is the flow control of one task type with a rate limit or a
// concurrency per key, as [Inspector.Limits] reads it: each limit, how
// much of it is in use now and what waits on it. A field is nil when the
// type has no such limit. The JSON field names are snake_case; durations
// are in nanoseconds.
type Limits struct {
	Queue string `json:"queue"`
	Task  string `json:"task"`
	// Workers counts the live workers serving the type; the limits are
	// their definition's, from their presence entries.
	Workers int `json:"workers"`
	// Rate is the type's rate limit (tasks.WithRateLimit).
	Rate *RateUse `json:"rate,omitempty"`
	// KeyRate is the type's rate limit per key (tasks.WithKeyRateLimit).
	KeyRate *KeyRateUse `json:"key_rate,omitempty"`
	// KeyConcurrency is the type's concurrency per key
	// (tasks.WithKeyConcurrency).
	KeyConcurrency *KeyPlaces `json:"key_concurrency,omitempty"`
}

// RateUse is a task type's rate limit in its current window.
type RateUse struct {
	// Limit is at most N starts per interval Per.
	Limit tasks.Rate `json:"limit"`
	// WindowEnd is when the current window ends: the next one grants N
	// starts again.
	WindowEnd time.Time `json:"window_end"`
	// Used is the starts the server granted in the current window, from 0
	// to N: its counter of the window, which counts every request for
	// starts, granted or not, read at most N.
	Used int `json:"used"`
	// Waiting counts the type's tasks stored and not yet delivered (its
	// consumer's pending): over the limit they wait on the server, for a
	// window with starts left.
	Waiting uint64 `json:"waiting"`
}

// KeyRateUse is a task type's rate limit per key in its current window.
type KeyRateUse struct {
	// Limit is at most N starts per interval Per for each key.
	Limit tasks.Rate `json:"limit"`
	// WindowEnd is when the current window ends.
	WindowEnd time.Time `json:"window_end"`
	// Keys counts the keys that asked for a start in the current window.
	Keys int `json:"keys"`
	// Used is the starts granted in the current window, over every key.
	Used int `json:"used"`
	// Waiting counts the tasks the live workers hold until their key's
	// window grants them a start, as their presence entries last said (up
	// to one presence interval old): only the worker holding a task knows
	// it waits.
	Waiting int `json:"waiting"`
	// Top lists the keys with the most starts granted in the current
	// window, most first, at most [TopKeys].
	Top []KeyCount `json:"top,omitempty"`
	// Partial reports that the window has more than [MaxLimitKeys] keys:
	// Keys, Used and Top are of those read.
	Partial bool `json:"partial,omitempty"`
}

// KeyPlaces is a task type's concurrency per key and the places its
// running tasks take, read from the bucket JETQ_KEYSLOTS.
type KeyPlaces struct {
	// Limit is how many tasks of one key may run at once.
	Limit int `json:"limit"`
	// Keys counts the keys with a task running.
	Keys int `json:"keys"`
	// Running counts the places taken: the tasks running, over every key.
	Running int `json:"running"`
	// Top lists the keys with the most tasks running, most first, at most
	// [TopKeys].
	Top []KeyCount `json:"top,omitempty"`
	// Partial reports that more than [MaxLimitKeys] places are taken:
	// Keys, Running and Top are of those read.
	Partial bool `json:"partial,omitempty"`
}

// KeyCount is a task key and its count: starts in a window, or tasks
// running. The key is empty for the tasks without one, which share one
// count of a concurrency per key.
type KeyCount struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// String is k as "acme=2"; a key that is empty or has a space, a '=' or
// a quote is quoted: "big co"=1, ""=1.
func (k KeyCount) String() string {
	key := k.Key
	if key == "" || strings.ContainsAny(key, " =\"") || !strconv.CanBackquote(key) {
		key = strconv.Quote(key)
	}
	return key + "=" + strconv.Itoa(k.Count)
}

// FormatKeys is top as `jetq queues limits` prints it: each key's
// [KeyCount.String], separated by spaces; empty for none.
func FormatKeys(top []KeyCount) string {
	parts := make([]string, len(top))
	for i, k := range top {
		parts[i] = k.String()
	}
	return strings.Join(parts, " ")
}

// Limits returns the flow control of every task type that a live worker
// serves with a rate limit or a concurrency per key, sorted by queue then
// task; none when no live worker has a limit.
//
// # Where the numbers come from
//
// A limit is part of a task type's definition in the workers' code, so
// the limits are those the live workers say in their presence entries
// (JETQ_WORKERS, rewritten every presence interval); a worker before them
// says none. What is in use is read from the server, as every worker
// counts it, not from a worker:
//
//   - a rate limit's starts are the counter of its current window in the
//     stream JETQ_RATES (subject jetq.rate.t.<queue>.<task>.<interval
//     ns>.<window>); its waiting tasks are the type's consumer's pending;
//   - a key rate limit's starts are the counters of its current window,
//     one per key (jetq.rate.k.<queue>.<task>.<interval ns>.<window>.<key
//     in base64url>); the tasks waiting for their key are held by workers,
//     so they come from the presence entries;
//   - a concurrency per key's places are the entries of the bucket
//     JETQ_KEYSLOTS, one per running task, under "<queue>.<task>.".
//
// A call reads the presence bucket once and then, per limit, one request
// a 256 keys (a type's rate limit: one), at most [MaxLimitKeys] keys a
// limit. Only the keys of the current window are read: the rate stream
// keeps the windows of the last hour, which are not.
func (in *Inspector) Limits(ctx context.Context) ([]Limits, error) {
	return in.limits(ctx, nil)
}

// Limit returns the flow control of one task type; the limits it does
// not have are nil. It returns an error wrapping [ErrInvalidQuery] for an
// invalid queue or task name, and one wrapping [ErrNotFound] when no live
// worker serves the type: its limits are known only to its workers.
func (in *Inspector) Limit(ctx context.Context, queue, task string) (Limits, error) {
	if err := validType(queue, task); err != nil {
		return Limits{}, err
	}
	rows, err := in.limits(ctx, &key{queue, task})
	if err != nil {
		return Limits{}, err
	}
	if len(rows) == 0 {
		return Limits{}, fmt.Errorf("%w: no live worker serves task %q on queue %q; its limits are in its workers' definition (jetq workers lists what they serve)",
			ErrNotFound, task, queue)
	}
	return rows[0], nil
}

// typeLimits is what the live workers say of one task type's limits.
type typeLimits struct {
	workers    int
	keyWaiting int
	updated    time.Time // of the entry the limits are from
	rate, key  tasks.Rate
	keyConc    int
}

// limits reads the limits of every type a live worker serves with one, or
// of only (not nil) if a live worker serves it, with or without limits.
func (in *Inspector) limits(ctx context.Context, only *key) ([]Limits, error) {
	ps, err := in.presences(ctx)
	if err != nil {
		return nil, err
	}
	types := map[key]*typeLimits{}
	for _, p := range ps {
		for _, t := range p.Tasks {
			k := key{t.Queue, t.Task}
			if only != nil && k != *only {
				continue
			}
			tl := types[k]
			if tl == nil {
				tl = &typeLimits{}
				types[k] = tl
			}
			tl.workers++
			tl.keyWaiting += t.KeyWaiting
			// Workers of two versions of a definition may differ: the
			// latest entry's is shown.
			if p.Updated.After(tl.updated) {
				tl.updated, tl.rate, tl.key, tl.keyConc = p.Updated, t.RateLimit, t.KeyRateLimit, t.KeyConcurrency
			}
		}
	}
	r := limitReader{in: in, now: time.Now()}
	var out []Limits
	for k, tl := range types {
		if only == nil && tl.rate.IsZero() && tl.key.IsZero() && tl.keyConc == 0 {
			continue
		}
		l := Limits{Queue: k.queue, Task: k.task, Workers: tl.workers}
		if !tl.rate.IsZero() {
			if l.Rate, err = r.rate(ctx, k, tl.rate); err != nil {
				return nil, err
			}
		}
		if !tl.key.IsZero() {
			if l.KeyRate, err = r.keyRate(ctx, k, tl.key); err != nil {
				return nil, err
			}
			l.KeyRate.Waiting = tl.keyWaiting
		}
		if tl.keyConc > 0 {
			if l.KeyConcurrency, err = r.keyPlaces(ctx, k, tl.keyConc); err != nil {
				return nil, err
			}
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Limits) int {
		return cmp.Or(cmp.Compare(a.Queue, b.Queue), cmp.Compare(a.Task, b.Task))
	})
	return out, nil
}

// limitReader reads the counters and places of limits as of now; it
// looks up the rate stream and the places' bucket once.
type limitReader struct {
	in  *Inspector
	now time.Time

	rates, slots         jetstream.Stream
	ratesRead, slotsRead bool
}

// stream returns stream name, nil if it does not exist, looked up once
// into *s.
func (r *limitReader) stream(ctx context.Context, name string, s *jetstream.Stream, read *bool) (jetstream.Stream, error) {
	if *read {
		return *s, nil
	}
	st, err := r.in.js.Stream(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	if err == nil {
		*s = st
	}
	*read = true
	return *s, nil
}

func (r *limitReader) rateStream(ctx context.Context) (jetstream.Stream, error) {
	return r.stream(ctx, ratelimit.StreamConfig(r.in.pub).Name, &r.rates, &r.ratesRead)
}

// spec is the definition of task type k as far as the rate counters name
// it.
func spec(k key, rate, keyRate tasks.Rate) tasks.Spec {
	return tasks.Spec{Queue: k.queue, Name: k.task, RateLimit: rate, KeyRateLimit: keyRate}
}

// rate reads type k's limit lim in its current window.
func (r *limitReader) rate(ctx context.Context, k key, lim tasks.Rate) (*RateUse, error) {
	index, end := ratelimit.Window(r.now, lim.Per)
	u := &RateUse{Limit: lim, WindowEnd: end.UTC()}
	st, err := r.rateStream(ctx)
	if err != nil {
		return nil, err
	}
	if st != nil {
		subject := ratelimit.New(r.in.js, r.in.pub).TypeSubject(spec(k, lim, tasks.Rate{}), index)
		m, err := st.GetLastMsgForSubject(ctx, subject)
		switch {
		case err == nil:
			u.Used = min(counterValue(m.Data), lim.N)
		case !errors.Is(err, jetstream.ErrMsgNotFound):
			return nil, fmt.Errorf("inspect: rate counter %s: %w", subject, err)
		}
	}
	cons, err := r.in.js.Consumer(ctx, r.in.names.WorkStream(), r.in.names.Durable(k.queue, k.task))
	switch {
	case err == nil:
		u.Waiting = cons.CachedInfo().NumPending
	case !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, fmt.Errorf("inspect: consumer of task %q: %w", k.task, err)
	}
	return u, nil
}

// keyRate reads type k's key limit lim in its current window.
func (r *limitReader) keyRate(ctx context.Context, k key, lim tasks.Rate) (*KeyRateUse, error) {
	index, end := ratelimit.Window(r.now, lim.Per)
	u := &KeyRateUse{Limit: lim, WindowEnd: end.UTC()}
	st, err := r.rateStream(ctx)
	if err != nil || st == nil {
		return u, err
	}
	// The subject of the empty key ends where the key's token starts.
	base := ratelimit.New(r.in.js, r.in.pub).KeySubject(spec(k, tasks.Rate{}, lim), "", index)
	var counts []KeyCount
	u.Partial, err = r.readAll(ctx, st, base+"*", func(m directget.Msg) {
		key, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(m.Subject, base))
		if n := min(counterValue(m.Data), lim.N); err == nil && n > 0 {
			counts = append(counts, KeyCount{Key: string(key), Count: n})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("inspect: rate counters of task %q: %w", k.task, err)
	}
	u.Keys = len(counts)
	for _, c := range counts {
		u.Used += c.Count
	}
	u.Top = top(counts)
	return u, nil
}

// keyPlaces reads the places type k's running tasks take, of limit n a
// key.
func (r *limitReader) keyPlaces(ctx context.Context, k key, n int) (*KeyPlaces, error) {
	u := &KeyPlaces{Limit: n}
	bucket := r.in.names.KeySlotsBucket()
	st, err := r.stream(ctx, "KV_"+bucket, &r.slots, &r.slotsRead)
	if err != nil || st == nil {
		return u, err
	}
	prefix := wire.KeySlotsOf(k.queue, k.task)
	base := "$KV." + bucket + "."
	perKey := map[string]int{}
	u.Partial, err = r.readAll(ctx, st, base+prefix+"*.*", func(m directget.Msg) {
		// A place given back leaves a marker a moment: not a place.
		if m.Header.Get("KV-Operation") != "" || m.Header.Get(jetstream.MarkerReasonHeader) != "" || len(m.Data) == 0 {
			return
		}
		if key, _, ok := wire.ParseKeySlot(prefix, strings.TrimPrefix(m.Subject, base)); ok {
			perKey[key]++
			u.Running++
		}
	})
	if err != nil {
		return nil, fmt.Errorf("inspect: key places of task %q: %w", k.task, err)
	}
	counts := make([]KeyCount, 0, len(perKey))
	for key, c := range perKey {
		counts = append(counts, KeyCount{Key: key, Count: c})
	}
	u.Keys = len(counts)
	u.Top = top(counts)
	return u, nil
}

// limitBatch bounds one read of counters or places.
const limitBatch = 256

// readAll calls fn with each message of stream st on filter, up to
// MaxLimitKeys of them, and reports whether more were left: in batches of
// direct gets where the stream allows them (jetq's do), else one get a
// message.
func (r *limitReader) readAll(ctx context.Context, st jetstream.Stream, filter string, fn func(directget.Msg)) (partial bool, err error) {
	cfg := st.CachedInfo().Config
	name := cfg.Name
	read := 0
	if !cfg.AllowDirect {
		for seq := uint64(1); ; read++ {
			m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
			switch {
			case errors.Is(err, jetstream.ErrMsgNotFound):
				return false, nil
			case err != nil:
				return false, err
			case read == MaxLimitKeys:
				return true, nil // one more is there
			}
			fn(directget.Msg{Seq: m.Sequence, Subject: m.Subject, Stored: m.Time, Header: m.Header, Data: m.Data})
			seq = m.Sequence + 1
		}
	}
	for seq := uint64(1); ; {
		msgs, more, err := directget.Batch(ctx, r.in.js, name,
			directget.Request{Seq: seq, NextFor: filter, Batch: min(limitBatch, MaxLimitKeys-read), MaxBytes: scheduledBatchBytes})
		if err != nil {
			return false, err
		}
		for _, m := range msgs {
			fn(m)
			seq = m.Seq + 1
		}
		read += len(msgs)
		switch {
		case !more || len(msgs) == 0:
			return false, nil
		case read >= MaxLimitKeys:
			return true, nil
		}
	}
}

// counterValue is the count a counter message holds ({"val":"12"}), 0 if
// it holds none and math.MaxInt past it.
func counterValue(data []byte) int {
	var c struct {
		Val string `json:"val"`
	}
	if json.Unmarshal(data, &c) != nil {
		return 0
	}
	n, err := strconv.ParseInt(c.Val, 10, 64)
	if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(c.Val, "-") {
		return math.MaxInt
	}
	if err != nil || n < 0 {
		return 0
	}
	return int(min(n, math.MaxInt))
}

// top is the TopKeys greatest counts, greatest first, then by key.
func top(counts []KeyCount) []KeyCount {
	slices.SortFunc(counts, func(a, b KeyCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key))
	})
	return slices.Clip(counts[:min(len(counts), TopKeys)])
}
