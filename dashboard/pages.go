package dashboard

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/internal/human"
	"github.com/jetq/jetq/lookup"
	"github.com/jetq/jetq/queues"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/tasks"
)

// page is what every template is given.
type page struct {
	Title    string
	Nav      string // the current section, for the menu
	Base     string
	Actions  bool // actions are on
	SignedIn bool // and this browser may take them
	Hide     bool // payloads are hidden
	Flash    string
	Data     any
}

var funcs = template.FuncMap{
	"age":  human.Age,
	"when": when,
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return human.Age(time.Since(t)) + " ago"
	},
	"until": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return "in " + human.Age(time.Until(t))
	},
	"pct": func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) + "%" },
}

// parsePages parses each page template with the layout.
func parsePages() (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(web, "web/templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(web, "web/templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		base := strings.TrimSuffix(name[strings.LastIndex(name, "/")+1:], ".html")
		if base == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(web, name)
		if err != nil {
			return nil, err
		}
		pages[base] = t
	}
	return pages, nil
}

// render writes the page name with data, or an error page.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	p := page{Title: title, Nav: name, Base: d.cfg.base, Actions: d.cfg.actions, SignedIn: d.allowed(r),
		Hide: d.cfg.hidePayloads, Flash: r.URL.Query().Get("done"), Data: data}
	var buf bytes.Buffer
	if err := d.pages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		d.cfg.log.LogAttrs(r.Context(), slog.LevelError, "jetq dashboard: cannot render page", slog.String("page", name), slog.String("error", err.Error()))
		http.Error(w, "cannot render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// fail answers with an error page, or JSON for the API.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	if code >= 500 {
		d.cfg.log.LogAttrs(r.Context(), slog.LevelWarn, "jetq dashboard: request failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	w.WriteHeader(code)
	d.render(w, r, "error", http.StatusText(code), map[string]any{"Code": code, "Error": err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Overview is the overview's data, also served as JSON at /api/overview.
type Overview struct {
	// Queues are the task types, sorted by queue then task.
	Queues []queues.Stats `json:"queues"`
	// Totals adds up Queues.
	Totals Totals `json:"totals"`
	// Workers counts the live worker processes.
	Workers int `json:"workers"`
	// Rates are the chart's points, oldest first.
	Rates []Rate `json:"rates"`
	// At is when it was read.
	At time.Time `json:"at"`
}

func (d *Dashboard) readOverview(r *http.Request) (Overview, error) {
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	rows, err := d.queues.List(ctx)
	if err != nil {
		return Overview{}, err
	}
	ws, err := d.queues.Workers(ctx)
	if err != nil {
		return Overview{}, err
	}
	now := time.Now()
	o := Overview{Queues: orEmpty(rows), Workers: len(ws), Rates: orEmpty(d.history.add(now, rows, ws)), At: now}
	for _, r := range rows {
		o.Totals.Pending += r.Pending
		o.Totals.InFlight += r.InFlight
		o.Totals.DeadLettered += r.DeadLettered
	}
	return o, nil
}

// live returns the handlers of a page that refreshes itself: the page
// name with what read returns, and the same as JSON for its script.
func live[T any](d *Dashboard, name, title string, read func(*http.Request) (T, error)) (html, api http.HandlerFunc) {
	serve := func(w http.ResponseWriter, r *http.Request, show func(T)) {
		v, err := read(r)
		if err != nil {
			d.fail(w, r, http.StatusBadGateway, err)
			return
		}
		show(v)
	}
	html = func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, func(v T) { d.render(w, r, name, title, v) })
	}
	api = func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, func(v T) { writeJSON(w, http.StatusOK, v) })
	}
	return html, api
}

// Totals are the overview's counts over every task type.
type Totals struct {
	Pending      uint64 `json:"pending"`
	InFlight     int    `json:"in_flight"`
	DeadLettered uint64 `json:"dead_lettered"`
}

// taskView is what the task page shows of one task.
type taskView struct {
	lookup.Result
	Payload string // of the work-stream message, pretty-printed
}

func (d *Dashboard) task(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	if id == "" {
		d.render(w, r, "task", "Find a task", (*taskView)(nil))
		return
	}
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	res, err := d.lookup.Find(ctx, id)
	if err != nil {
		d.fail(w, r, http.StatusBadGateway, err)
		return
	}
	v := &taskView{Result: res}
	if res.Work != nil && !d.cfg.hidePayloads {
		v.Payload = pretty(res.Work.Payload)
	}
	if !res.Found() {
		w.WriteHeader(http.StatusNotFound)
	}
	d.render(w, r, "task", "Task "+id, v)
}

// dlqPageSize is how many records a dead-letter page shows.
const dlqPageSize = 50

// dlqListView is the dead-letter page's data.
type dlqListView struct {
	Filter  dlq.Filter
	Since   string // the form's values, as given
	Until   string
	Reasons []tasks.Reason
	Types   []queues.Stats // to pick a task from
	Entries []dlq.Entry
	Next    string     // the query of the next page, "" on the last
	Query   string     // the filter as a query, without After
	Form    url.Values // the same, for the bulk actions' form
	Total   uint64     // records in the stream
}

func (d *Dashboard) dlqList(w http.ResponseWriter, r *http.Request) {
	f, since, until, err := filterOf(r.URL.Query())
	if err != nil {
		d.fail(w, r, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	f.Order, f.Limit = dlq.NewestFirst, dlqPageSize+1
	es, err := d.dlq.List(ctx, f)
	if err != nil {
		code := http.StatusBadGateway
		if errors.Is(err, dlq.ErrInvalidOption) {
			code = http.StatusBadRequest
		}
		d.fail(w, r, code, err)
		return
	}
	v := dlqListView{Filter: f, Since: since, Until: until, Reasons: reasons, Query: filterQuery(f, since, until).Encode(), Form: filterQuery(f, since, until)}
	if len(es) > dlqPageSize {
		es = es[:dlqPageSize]
		q := filterQuery(f, since, until)
		q.Set("after", strconv.FormatUint(es[len(es)-1].Seq, 10))
		v.Next = q.Encode()
	}
	v.Entries = es
	if rows, err := d.queues.List(ctx); err == nil {
		v.Types = slices.DeleteFunc(rows, func(s queues.Stats) bool { return s.DeadLettered == 0 })
		for _, s := range rows {
			v.Total += s.DeadLettered
		}
	}
	d.render(w, r, "dlq", "Dead letters", v)
}

var reasons = []tasks.Reason{tasks.ReasonPermanent, tasks.ReasonMaxAttempts, tasks.ReasonMaxDeliveries, tasks.ReasonInvalidPayload, tasks.ReasonTimeout}

// filterOf reads a dead-letter filter from a query or form. Times are
// RFC 3339, or the "2006-01-02T15:04" of a datetime-local input in UTC.
func filterOf(q url.Values) (f dlq.Filter, since, until string, err error) {
	f.Task, f.Queue = strings.TrimSpace(q.Get("task")), strings.TrimSpace(q.Get("queue"))
	if q, t, ok := strings.Cut(f.Task, "/"); ok {
		f.Queue, f.Task = q, t // "queue/task" from the picker
	}
	f.Reason = tasks.Reason(q.Get("reason"))
	since, until = q.Get("since"), q.Get("until")
	if f.Since, err = parseTime("since", since); err != nil {
		return f, since, until, err
	}
	if f.Until, err = parseTime("until", until); err != nil {
		return f, since, until, err
	}
	if a := q.Get("after"); a != "" {
		if f.After, err = strconv.ParseUint(a, 10, 64); err != nil {
			return f, since, until, fmt.Errorf("after must be a record's sequence, got %q", a)
		}
	}
	return f, since, until, nil
}

func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s must be a time such as 2026-12-01T15:04 (UTC) or RFC 3339, got %q", name, s)
}

// filterQuery is f as a query, After left out.
func filterQuery(f dlq.Filter, since, until string) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"task": f.Task, "queue": f.Queue, "reason": string(f.Reason), "since": since, "until": until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// dlqRecordView is a record's page data.
type dlqRecordView struct {
	Entry   dlq.Entry
	Payload string // pretty-printed
	Headers [][2]string
}

func (d *Dashboard) dlqRecord(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		d.fail(w, r, http.StatusBadRequest, fmt.Errorf("a record is named by its sequence, a number; got %q", r.PathValue("seq")))
		return
	}
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	e, err := d.dlq.Get(ctx, seq)
	if errors.Is(err, dlq.ErrNotFound) {
		d.fail(w, r, http.StatusNotFound, fmt.Errorf("no dead-letter record %d: it was replayed, deleted or has expired", seq))
		return
	}
	if err != nil {
		d.fail(w, r, http.StatusBadGateway, err)
		return
	}
	v := dlqRecordView{Entry: e}
	if !d.cfg.hidePayloads {
		v.Payload = pretty(e.Payload)
	}
	for k, vals := range e.Header {
		for _, val := range vals {
			v.Headers = append(v.Headers, [2]string{k, val})
		}
	}
	slices.SortFunc(v.Headers, func(a, b [2]string) int { return cmp.Compare(a[0], b[0]) })
	d.render(w, r, "record", fmt.Sprintf("Dead letter %d", seq), v)
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
	d.one(w, r, "replayed", d.dlq.Replay)
}

func (d *Dashboard) deleteOne(w http.ResponseWriter, r *http.Request) {
	d.one(w, r, "deleted", d.dlq.Delete)
}

// one applies do to the record of the request's path.
func (d *Dashboard) one(w http.ResponseWriter, r *http.Request, done string, do func(ctx context.Context, seq uint64) error) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		d.fail(w, r, http.StatusBadRequest, fmt.Errorf("a record is named by its sequence, a number; got %q", r.PathValue("seq")))
		return
	}
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	err = do(ctx, seq)
	if errors.Is(err, dlq.ErrNotFound) {
		d.fail(w, r, http.StatusNotFound, fmt.Errorf("no dead-letter record %d: it was replayed, deleted or has expired", seq))
		return
	}
	if err != nil {
		d.fail(w, r, http.StatusBadGateway, err)
		return
	}
	d.cfg.log.LogAttrs(r.Context(), slog.LevelInfo, "jetq dashboard: dead-letter record "+done, slog.Uint64("seq", seq), slog.String("remote", r.RemoteAddr))
	http.Redirect(w, r, d.path("/dlq?done="+url.QueryEscape(fmt.Sprintf("Record %d %s.", seq, done))), http.StatusSeeOther)
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
	Filter dlq.Filter
}

// bulk replays or purges every record a filter selects: the first POST
// shows how many on a confirmation page, whose POST (confirm=yes) acts.
func (d *Dashboard) bulk(a bulkAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			d.fail(w, r, http.StatusBadRequest, err)
			return
		}
		f, since, until, err := filterOf(r.PostForm)
		if err != nil {
			d.fail(w, r, http.StatusBadRequest, err)
			return
		}
		f.After = 0
		ctx, cancel := d.reqCtx(r)
		defer cancel()
		verb, path := "Replay", "/dlq/replay"
		if a == bulkPurge {
			verb, path = "Purge", "/dlq/purge"
		}
		if r.PostForm.Get("confirm") != "yes" {
			n, err := d.dlq.Count(ctx, f)
			if err != nil {
				d.fail(w, r, http.StatusBadGateway, err)
				return
			}
			d.render(w, r, "confirm", verb+" dead letters", bulkView{Verb: verb, Action: path, Count: n, Form: filterQuery(f, since, until), Filter: f})
			return
		}
		var n int
		if a == bulkPurge {
			n, err = d.dlq.Purge(ctx, f)
		} else {
			n, err = d.dlq.ReplayAll(ctx, f)
		}
		past := map[bulkAction]string{bulkReplay: "replayed", bulkPurge: "purged"}[a]
		d.cfg.log.LogAttrs(r.Context(), slog.LevelInfo, "jetq dashboard: dead-letter records "+past,
			slog.Int("count", n), slog.String("filter", filterQuery(f, since, until).Encode()), slog.String("remote", r.RemoteAddr))
		if err != nil {
			d.fail(w, r, http.StatusBadGateway, fmt.Errorf("%s %d records, then: %w", past, n, err))
			return
		}
		q := filterQuery(f, since, until)
		q.Set("done", fmt.Sprintf("%d records %s.", n, past))
		http.Redirect(w, r, d.path("/dlq?"+q.Encode()), http.StatusSeeOther)
	}
}

func (d *Dashboard) readWorkers(r *http.Request) ([]queues.Worker, error) {
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	ws, err := d.queues.Workers(ctx)
	return orEmpty(ws), err
}

// scheduledView is the scheduled page's data.
type scheduledView struct {
	Delayed  []schedule.Delayed
	Next     string // the query of the next page of delayed tasks
	Periodic []schedule.PeriodicInfo
	Paused   []queues.Stats
	Notes    []string
}

// delayedPageSize is how many delayed tasks the scheduled page shows.
const delayedPageSize = 100

func (d *Dashboard) scheduled(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	var v scheduledView
	ds, err := d.schedules.ListDelayed(ctx, schedule.ListOptions{After: after, Limit: delayedPageSize})
	switch {
	case err == nil:
		v.Delayed = ds
		if len(ds) == delayedPageSize {
			v.Next = "after=" + strconv.FormatUint(ds[len(ds)-1].Sequence, 10)
		}
	case errors.Is(err, schedule.ErrUnsupported):
		v.Notes = append(v.Notes, "This server has no message schedules (nats-server 2.14 or newer has).")
	default:
		v.Notes = append(v.Notes, "delayed tasks: "+err.Error())
	}
	if ps, err := d.schedules.ListPeriodic(ctx); err == nil {
		v.Periodic = ps
	} else if !errors.Is(err, schedule.ErrUnsupported) {
		v.Notes = append(v.Notes, "periodic tasks: "+err.Error())
	}
	if rows, err := d.queues.List(ctx); err == nil {
		v.Paused = slices.DeleteFunc(rows, func(s queues.Stats) bool { return !s.Paused })
	} else {
		v.Notes = append(v.Notes, "queues: "+err.Error())
	}
	d.render(w, r, "scheduled", "Scheduled", v)
}

// when writes t in UTC to the second; "-" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// orEmpty is s, or an empty slice for nil: JSON [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
