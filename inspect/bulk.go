package inspect

import (
	"bytes"
	"cmp"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// Action is what a [Bulk] does to each task it covers.
type Action string

// The actions a [Bulk] can apply.
const (
	ActionDelete Action = "delete" // pending tasks: [Inspector.Delete]
	ActionRunNow Action = "run"    // scheduled tasks: [Inspector.RunNow]
	ActionCancel Action = "cancel" // scheduled tasks: [Inspector.Cancel]
	ActionRetry  Action = "retry"  // retrying tasks: [Inspector.RetryNow]
)

// state is the state of the tasks a acts on.
func (a Action) state() (State, error) {
	switch a {
	case ActionDelete:
		return Pending, nil
	case ActionRunNow, ActionCancel:
		return Scheduled, nil
	case ActionRetry:
		return Retrying, nil
	}
	return "", fmt.Errorf("%w: unknown action %q: use %s (pending tasks), %s or %s (scheduled tasks), or %s (retrying tasks)",
		ErrInvalidQuery, a, ActionDelete, ActionRunNow, ActionCancel, ActionRetry)
}

// applier applies one action to listed tasks.
type applier struct {
	in   *Inspector
	a    Action
	work jetstream.Stream // for ActionDelete, read once
}

// act applies the action to t, a task listed a moment ago: a delete skips
// reading the message again, since the listing read it.
func (ap *applier) act(ctx context.Context, t TaskInfo) error {
	switch ap.a {
	case ActionDelete:
		if ap.work == nil {
			work, err := ap.in.stream(ctx, ap.in.names.WorkStream())
			if err != nil || work == nil {
				return cmp.Or(err, fmt.Errorf("inspect: task %q: %w", t.ID, ErrMovedOn))
			}
			ap.work = work
		}
		return ap.in.remove(ctx, ap.work, t, slog.LevelDebug) // ApplyBulk logs the whole
	case ActionRunNow:
		return ap.in.RunNow(ctx, t.Ref())
	case ActionCancel:
		return ap.in.Cancel(ctx, t.Ref())
	case ActionRetry:
		return ap.in.RetryNow(ctx, t.Ref())
	}
	_, err := ap.a.state()
	return err
}

// MaxBulk is how many tasks one [Bulk] covers at most.
const MaxBulk = 100_000

// Bulk is an action over the tasks a query selects, counted before it is
// applied: [Inspector.ApplyBulk] acts on the tasks counted and on no other.
type Bulk struct {
	Action Action
	Query  Query
	// Count is how many tasks the action covers.
	Count int
	// More reports that the query selects more than [MaxBulk] tasks: the
	// bulk covers the first MaxBulk of its list; plan again after applying
	// it for the rest.
	More bool
	// Token carries the tasks counted (their sequences) and what they were
	// counted for, for a confirmation that comes back in another request.
	Token string
}

// BulkResult is what [Inspector.ApplyBulk] did.
type BulkResult struct {
	// Done counts the tasks acted on; MovedOn those that left the state
	// before their turn and were left alone. They add up to Bulk.Count.
	Done, MovedOn int
}

// PlanBulk counts the tasks that action a would act on now: those of its
// state (pending for [ActionDelete], scheduled for [ActionRunNow] and
// [ActionCancel], retrying for [ActionRetry]) that q's filters keep. q's
// State may be left empty; its Limit and Token are ignored (a bulk covers
// the whole list) and Scan bounds each page of the count, not the count.
// It reads the whole list once, at the cost of listing it (see
// [Inspector.Tasks]), and changes nothing.
//
// It returns an error wrapping [ErrInvalidQuery] for an unknown action, a
// q.State the action does not act on, or a query [Inspector.Tasks] would
// refuse.
func (in *Inspector) PlanBulk(ctx context.Context, a Action, q Query) (Bulk, error) {
	st, err := a.state()
	if err != nil {
		return Bulk{}, err
	}
	if q.State != "" && q.State != st {
		return Bulk{}, fmt.Errorf("%w: %s acts on %s tasks, not %s: set Query.State to %s or leave it empty", ErrInvalidQuery, a, st, q.State, st)
	}
	q.State, q.Token, q.Limit = st, "", 0
	lq := q
	if _, err := lq.check(); err != nil {
		return Bulk{}, err
	}
	lq.Limit = MaxLimit
	b := Bulk{Action: a, Query: q}
	var seqs []uint64
	for tok := (cursor{}); ; {
		p, next, err := in.list(ctx, lq, tok)
		if err != nil {
			return Bulk{}, err
		}
		for _, t := range p.Tasks {
			if len(seqs) == MaxBulk {
				b.More = true
				break
			}
			seqs = append(seqs, t.Seq)
		}
		if next == nil || b.More {
			break
		}
		tok = *next
	}
	b.Count = len(seqs)
	b.Token = bulkToken(a, q, seqs)
	return b, nil
}

// ApplyBulk applies a planned bulk action to the tasks b counted that are
// still in its state, one at a time in the order of their list, and
// leaves every other task alone: one enqueued after the plan, one the
// filter did not keep then. A task that left the state since is counted in
// MovedOn. It stops at the first error that is not about a task moving
// on, with what it did so far.
//
// It returns an error wrapping [ErrInvalidQuery] for a b whose Token is
// malformed or was not made by [Inspector.PlanBulk] for b's action and
// query.
func (in *Inspector) ApplyBulk(ctx context.Context, b Bulk) (BulkResult, error) {
	st, err := b.Action.state()
	if err != nil {
		return BulkResult{}, err
	}
	q := b.Query
	q.State, q.Token, q.Limit = st, "", 0
	seqs, err := readBulkToken(b.Token, b.Action, q)
	if err != nil {
		return BulkResult{}, err
	}
	if len(seqs) != b.Count {
		return BulkResult{}, fmt.Errorf("%w: bulk count %d is not the %d tasks its token covers: plan the bulk again", ErrInvalidQuery, b.Count, len(seqs))
	}
	var res BulkResult
	if len(seqs) == 0 {
		return res, nil
	}
	if _, err := q.check(); err != nil {
		return res, err
	}
	q.Limit = MaxLimit
	left := make(map[uint64]bool, len(seqs))
	for _, s := range seqs {
		left[s] = true
	}
	defer func() {
		in.log.LogAttrs(ctx, slog.LevelInfo, "jetq: applied a bulk action", slog.String(keyAction, string(b.Action)),
			slog.Int("count", b.Count), slog.Int("done", res.Done), slog.Int("moved_on", res.MovedOn))
	}()
	ap := &applier{in: in, a: b.Action}
	for tok := (cursor{UpTo: seqs[len(seqs)-1]}); len(left) > 0; {
		p, next, err := in.list(ctx, q, tok)
		if err != nil {
			return res, err
		}
		for _, t := range p.Tasks {
			if !left[t.Seq] {
				continue
			}
			delete(left, t.Seq)
			switch err := ap.act(ctx, t); {
			case err == nil:
				res.Done++
			case errors.Is(err, ErrMovedOn) || errors.Is(err, ErrNotFound):
				res.MovedOn++
			default:
				return res, err
			}
		}
		if next == nil {
			break
		}
		next.UpTo = tok.UpTo
		tok = *next
	}
	res.MovedOn += len(left) // no longer listed: moved on
	return res, nil
}

// bulkVersion is the first byte of a bulk token.
const bulkVersion = 1

// bulkToken encodes the token of a bulk of action a over q covering the
// tasks at sequences seqs: the action, q's fingerprint, and the sequences
// as deflated ascending deltas, sealed.
func bulkToken(a Action, q Query, seqs []uint64) string {
	slices.Sort(seqs)
	var buf bytes.Buffer
	buf.WriteByte(bulkVersion)
	buf.WriteByte(byte(len(a)))
	buf.WriteString(string(a))
	fp := q.fingerprint()
	buf.WriteByte(byte(len(fp)))
	buf.WriteString(fp)
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	var prev uint64
	for _, s := range seqs {
		_, _ = w.Write(binary.AppendUvarint(nil, s-prev))
		prev = s
	}
	_ = w.Close()
	return seal(buf.Bytes())
}

// readBulkToken reads the sequences of a bulk token made for a and q.
func readBulkToken(tok string, a Action, q Query) ([]uint64, error) {
	bad := fmt.Errorf("%w: bulk token is malformed: pass Bulk.Token as PlanBulk returned it, or plan the bulk again", ErrInvalidQuery)
	b, ok := unseal(tok)
	if !ok || len(b) < 2 || b[0] != bulkVersion {
		return nil, bad
	}
	r := bytes.NewReader(b[1:])
	field := func() (string, bool) {
		n, err := r.ReadByte()
		if err != nil || int(n) > r.Len() {
			return "", false
		}
		s := make([]byte, n)
		_, _ = r.Read(s)
		return string(s), true
	}
	action, ok1 := field()
	fp, ok2 := field()
	if !ok1 || !ok2 {
		return nil, bad
	}
	if Action(action) != a || fp != q.fingerprint() {
		return nil, fmt.Errorf("%w: bulk token is from another plan (another action or query): plan this bulk again and apply what that returns", ErrInvalidQuery)
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(r), 16*MaxBulk))
	if err != nil {
		return nil, bad
	}
	var seqs []uint64
	var prev uint64
	for len(raw) > 0 {
		d, n := binary.Uvarint(raw)
		if n <= 0 || d == 0 && len(seqs) > 0 || len(seqs) == MaxBulk {
			return nil, bad
		}
		prev += d
		seqs = append(seqs, prev)
		raw = raw[n:]
	}
	return seqs, nil
}
