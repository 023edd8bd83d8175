package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/tasks"
)

// dlqPageSize is how many records a dead-letter page shows.
const dlqPageSize = 50

// dlqMaxRead bounds the records read for one dead-letter page, so that a
// filter matching few of many records answers in bounded time: 0.2 to
// 0.4 s on the benchmark machine (BenchmarkPages). The page then offers to
// read on.
const dlqMaxRead = 2500

// BulkTimeout bounds a replay or purge of every record a filter selects,
// and the planning and applying of a bulk task action.
// It runs on after the browser leaves; what it did is logged.
const BulkTimeout = 10 * time.Minute

// dlqListView is the dead-letter page's data.
type dlqListView struct {
	Filter  inspect.DeadLetterFilter
	Since   string // the form's values, in the datetime-local format
	Until   string
	Reasons []tasks.Reason
	Types   []inspect.DeadLetterCount // to pick a task from
	Entries []inspect.DeadLetter
	// Next is the query of the next page, "" on the last; Partial says the
	// read stopped at dlqMaxRead records before the page was full.
	Next    template.URL
	Partial bool
	Read    int
	ReadTo  uint64       // the last record read
	First   template.URL // the query of the first page
	Form    url.Values   // the filter, for the bulk actions' form
	Back    template.URL // this page, for its records' pages to return to
	Total   int          // records in the stream
	Notes   []string
}

func (d *Dashboard) dlqList(w http.ResponseWriter, r *http.Request) {
	f, err := filterOf(r.URL.Query())
	if err != nil {
		d.fail(w, r, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	f.Order, f.Limit, f.MaxRead = inspect.NewestFirst, dlqPageSize, dlqMaxRead
	p, err := d.in.DeadLetterPage(ctx, f)
	if err != nil {
		code := http.StatusBadGateway
		if errors.Is(err, inspect.ErrInvalidQuery) {
			code = http.StatusBadRequest
		}
		d.fail(w, r, code, err)
		return
	}
	form := filterQuery(f)
	v := dlqListView{Filter: f, Since: inputTime(f.Since), Until: inputTime(f.Until), Reasons: reasons,
		Entries: p.Entries, Partial: p.Partial, Read: p.Read, ReadTo: p.Next, First: query(form), Form: form}
	here := filterQuery(f)
	if f.After != 0 {
		here.Set("after", strconv.FormatUint(f.After, 10))
	}
	if len(here) > 0 {
		v.Back = query(url.Values{"back": {here.Encode()}})
	}
	if p.Next != 0 {
		q := filterQuery(f)
		q.Set("after", strconv.FormatUint(p.Next, 10))
		v.Next = query(q)
	}
	if v.Types, err = d.in.DeadLettersByTask(ctx); err != nil {
		v.Notes = append(v.Notes, "task types: "+err.Error())
	}
	for _, t := range v.Types {
		v.Total += t.Records
	}
	d.render(w, r, http.StatusOK, "dlq", "Dead letters", v)
}

var reasons = []tasks.Reason{tasks.ReasonPermanent, tasks.ReasonMaxAttempts, tasks.ReasonMaxDeliveries, tasks.ReasonInvalidPayload, tasks.ReasonInvalidResult, tasks.ReasonTimeout}

// filterOf reads a dead-letter filter from a query or form: task as
// "queue/task" (the picker) or a bare task name, queue, reason, since and
// until in RFC 3339 or the UTC "2006-01-02T15:04" of a datetime-local
// input (until then covers its whole minute), and after.
func filterOf(q url.Values) (f inspect.DeadLetterFilter, err error) {
	f.Task, f.Queue = strings.TrimSpace(q.Get("task")), strings.TrimSpace(q.Get("queue"))
	if queue, task, ok := strings.Cut(f.Task, "/"); ok {
		f.Queue, f.Task = queue, task
	}
	f.Reason = tasks.Reason(q.Get("reason"))
	if f.Since, err = parseTime("since", q.Get("since"), false); err != nil {
		return f, err
	}
	if f.Until, err = parseTime("until", q.Get("until"), true); err != nil {
		return f, err
	}
	if a := q.Get("after"); a != "" {
		if f.After, err = strconv.ParseUint(a, 10, 64); err != nil {
			return f, fmt.Errorf("after must be a record's sequence, got %q", a)
		}
	}
	return f, nil
}

// parseTime reads a filter time; with end, a time to the minute or the
// second means the end of that minute or second.
func parseTime(name, s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05", s); err == nil {
		if end {
			t = t.Add(time.Second - time.Nanosecond)
		}
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		if end {
			t = t.Add(time.Minute - time.Nanosecond)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s must be a time such as 2026-12-01T15:04 (UTC) or RFC 3339, got %q", name, s)
}

// inputTime is t as a datetime-local input shows it, in UTC.
func inputTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

// filterQuery is f as a query, After left out; times to the nanosecond,
// so that the next page and a bulk action select what this page did.
func filterQuery(f inspect.DeadLetterFilter) url.Values {
	return queryOf(map[string]string{"task": f.Task, "queue": f.Queue, "reason": string(f.Reason),
		"since": exactTime(f.Since), "until": exactTime(f.Until)})
}

// dlqRecordView is a record's page data.
type dlqRecordView struct {
	Entry   inspect.DeadLetter
	Payload string // pretty-printed
	Headers [][2]string
	Hidden  int    // headers left out because payloads are hidden
	Back    string // the list's query to return to after an action
}

// shownHeaders are the headers a dashboard that hides payloads still
// shows: jetq's own and the server's, none of the producer's.
func shownHeader(k string) bool {
	return strings.HasPrefix(k, "Jetq-") || strings.HasPrefix(k, "Nats-")
}

// withRecord calls do with the sequence in the request's path, and
// answers its error: 400 for a path that is not a sequence, 404 for a
// record that is gone, 502 for others. It reports whether do succeeded.
func (d *Dashboard) withRecord(w http.ResponseWriter, r *http.Request, do func(ctx context.Context, seq uint64) error) (uint64, bool) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		d.fail(w, r, http.StatusBadRequest, fmt.Errorf("a record is named by its sequence, a number; got %q", r.PathValue("seq")))
		return 0, false
	}
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	switch err := do(ctx, seq); {
	case errors.Is(err, inspect.ErrNotFound):
		d.fail(w, r, http.StatusNotFound, fmt.Errorf("no dead-letter record %d: it was replayed, deleted or has expired", seq))
	case err != nil:
		d.fail(w, r, http.StatusBadGateway, err)
	default:
		return seq, true
	}
	return seq, false
}

func (d *Dashboard) dlqRecord(w http.ResponseWriter, r *http.Request) {
	var e inspect.DeadLetter
	seq, ok := d.withRecord(w, r, func(ctx context.Context, seq uint64) (err error) {
		e, err = d.in.DeadLetter(ctx, seq)
		return err
	})
	if !ok {
		return
	}
	v := dlqRecordView{Entry: e, Back: r.URL.Query().Get("back")}
	if !d.cfg.hidePayloads {
		v.Payload = pretty(e.Payload)
	}
	v.Headers, v.Hidden = headerRows(e.Header, d.cfg.hidePayloads)
	d.render(w, r, http.StatusOK, "record", fmt.Sprintf("Dead letter %d", seq), v)
}

// pretty indents a JSON payload, and shows other payloads as they are.
func pretty(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") == nil {
		return buf.String()
	}
	return string(b)
}

func (d *Dashboard) replayOne(w http.ResponseWriter, r *http.Request) {
	d.one(w, r, doneReplayed, d.in.ReplayDeadLetter)
}

func (d *Dashboard) deleteOne(w http.ResponseWriter, r *http.Request) {
	d.one(w, r, doneDeleted, d.in.DeleteDeadLetter)
}

// one applies do to the record of the request's path.
func (d *Dashboard) one(w http.ResponseWriter, r *http.Request, done string, do func(ctx context.Context, seq uint64) error) {
	seq, ok := d.withRecord(w, r, do)
	if !ok {
		return
	}
	d.cfg.log.LogAttrs(r.Context(), slog.LevelInfo, "jetq dashboard: dead-letter record "+done, slog.Uint64("seq", seq), slog.String("remote", r.RemoteAddr))
	q := backTo(r.PostFormValue("back"))
	q.Set("done", done)
	q.Set("n", strconv.FormatUint(seq, 10))
	http.Redirect(w, r, d.path("/dlq?"+q.Encode()), http.StatusSeeOther)
}

// backTo is the list a record's page came from, read from its back value
// as a filter and written anew, so that it can name nothing else; the
// whole list when it does not read.
func backTo(back string) url.Values {
	q, err := url.ParseQuery(back)
	if err != nil {
		return url.Values{}
	}
	f, err := filterOf(q)
	if err != nil {
		return url.Values{}
	}
	out := filterQuery(f)
	if f.After != 0 {
		out.Set("after", strconv.FormatUint(f.After, 10))
	}
	return out
}

type bulkAction int

const (
	bulkReplay bulkAction = iota
	bulkPurge
)

// bulkView is the confirmation page of a bulk action.
type bulkView struct {
	Verb   string // "Replay" or "Purge"
	Action string // its form's path
	Count  int
	Form   url.Values
	Cancel template.URL // the list's query
	Match  [][2]string  // what the filter selects: ("queue", "billing")…
}

// matching describes what f selects.
func matching(f inspect.DeadLetterFilter) [][2]string {
	return described([][2]string{{"queue", f.Queue}, {"task", f.Task}, {"reason", string(f.Reason)},
		{"failed since", when(f.Since)}, {"failed until", when(f.Until)}})
}

// bulk replays or purges every record a filter selects: the first POST
// shows how many on a confirmation page, whose POST (confirm=yes) acts, on
// a context of its own bounded by BulkTimeout.
func (d *Dashboard) bulk(a bulkAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			d.fail(w, r, http.StatusBadRequest, err)
			return
		}
		f, err := filterOf(r.PostForm)
		if err != nil {
			d.fail(w, r, http.StatusBadRequest, err)
			return
		}
		f.After = 0
		verb, path, past, done := "Replay", "/dlq/replay", "replayed", doneReplayN
		if a == bulkPurge {
			verb, path, past, done = "Purge", "/dlq/purge", "purged", donePurgedN
		}
		if r.PostForm.Get("confirm") != "yes" {
			// Counting by reason or time reads every record: as long as
			// the action itself may take.
			ctx, cancel := context.WithTimeout(r.Context(), BulkTimeout)
			defer cancel()
			n, err := d.in.CountDeadLetters(ctx, f)
			if err != nil {
				d.fail(w, r, http.StatusBadGateway, err)
				return
			}
			form := filterQuery(f)
			d.render(w, r, http.StatusOK, "confirm", verb+" dead letters", bulkView{Verb: verb, Action: path, Count: n, Form: form, Cancel: query(form), Match: matching(f)})
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), BulkTimeout)
		defer cancel()
		var n int
		if a == bulkPurge {
			n, err = d.in.PurgeDeadLetters(ctx, f)
		} else {
			n, err = d.in.ReplayDeadLetters(ctx, f)
		}
		attrs := []slog.Attr{slog.Int("count", n), slog.String("filter", filterQuery(f).Encode()), slog.String("remote", r.RemoteAddr)}
		if err != nil {
			d.cfg.log.LogAttrs(r.Context(), slog.LevelWarn, "jetq dashboard: dead-letter records "+past+", then failed", append(attrs, slog.String("error", err.Error()))...)
			d.fail(w, r, http.StatusBadGateway, fmt.Errorf("%s %d records, then: %w", past, n, err))
			return
		}
		d.cfg.log.LogAttrs(r.Context(), slog.LevelInfo, "jetq dashboard: dead-letter records "+past, attrs...)
		q := filterQuery(f)
		q.Set("done", done)
		q.Set("n", strconv.Itoa(n))
		http.Redirect(w, r, d.path("/dlq?"+q.Encode()), http.StatusSeeOther)
	}
}
