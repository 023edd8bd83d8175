package dashboard

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/human"
)

// page is what every template is given.
type page struct {
	Title    string
	Nav      string // the current section, for the menu
	Base     string
	Here     string // this page's path and query within the dashboard
	Actions  bool   // actions are on
	SignedIn bool   // and this browser may take them
	Hide     bool   // payloads are hidden
	Flash    string
	Data     any
}

var funcs = template.FuncMap{
	"age":  human.Age,
	"wait": human.Wait,
	"when": when,
	"ago":  ago,
	"until": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return "in " + human.Age(time.Until(t))
	},
	"pct":   func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) + "%" },
	"bytes": human.Bytes,
	"join":  strings.Join,
	// scope is the form value of a pause's scope.
	"scope": scopeValue,
	// keys is a limit's busiest keys: acme=2 "big co"=1, "-" for none.
	"keys": func(top []inspect.KeyCount) string { return cmp.Or(inspect.FormatKeys(top), "-") },
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

// render writes the page name with data and status code.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, code int, name, title string, data any) {
	here := "/"
	if r.Method == http.MethodGet {
		here = r.URL.RequestURI()
	}
	p := page{Title: title, Nav: name, Base: d.cfg.base, Here: here, Actions: d.cfg.actions,
		SignedIn: d.allowed(r), Hide: d.cfg.hidePayloads, Flash: flash(r.URL.Query()), Data: data}
	var buf bytes.Buffer
	if err := d.pages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		d.cfg.log.LogAttrs(r.Context(), slog.LevelError, "jetq dashboard: cannot render page", slog.String("page", name), slog.String("error", err.Error()))
		http.Error(w, "cannot render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
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
	d.render(w, r, code, "error", http.StatusText(code), map[string]any{"Code": code, "Error": err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(serverTimeHeader, strconv.FormatInt(time.Now().UnixMilli(), 10))
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// The flash messages an action's redirect asks for with done=: fixed
// texts, so a link cannot make the dashboard say anything else.
const (
	doneReplayed = "replayed" // one record, seq=
	doneDeleted  = "deleted"  // one record, seq=
	doneReplayN  = "replayed-all"
	donePurgedN  = "purged"
)

// flash is the message of q's done= and its number.
func flash(q url.Values) string {
	if s := taskFlash(q); s != "" {
		return s
	}
	if s := pauseFlash(q.Get("done")); s != "" {
		return s
	}
	n, err := strconv.ParseUint(q.Get("n"), 10, 64)
	if err != nil {
		return ""
	}
	switch q.Get("done") {
	case doneReplayed:
		return fmt.Sprintf("Record %d replayed.", n)
	case doneDeleted:
		return fmt.Sprintf("Record %d deleted.", n)
	case doneReplayN:
		return fmt.Sprintf("%d %s replayed.", n, records(n))
	case donePurgedN:
		return fmt.Sprintf("%d %s purged.", n, records(n))
	case doneWorkflowCancelled:
		return workflowFlash(n)
	}
	return ""
}

func records(n uint64) string {
	if n == 1 {
		return "record"
	}
	return "records"
}

// query is v as the query of a link: html/template would escape a plain
// string's = and &, and url.Values.Encode has escaped everything else.
func query(v url.Values) template.URL { return template.URL(v.Encode()) }

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
		serve(w, r, func(v T) { d.render(w, r, http.StatusOK, name, title, v) })
	}
	api = func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, func(v T) { writeJSON(w, http.StatusOK, v) })
	}
	return html, api
}

// ago writes how long ago t was: "just now" under a second (a worker
// rewrites its entry every 2 s by default, and neither an age of 0 s nor a
// clock a moment ahead is "-"), else "42s ago"; "-" for none. The
// dashboard's script writes a worker's last write the same way.
func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t)
	if d < time.Second {
		return "just now"
	}
	return human.Age(d) + " ago"
}

// serverTimeHeader carries the server's clock, in Unix milliseconds, on
// every JSON answer: the script measures ages from it, as the Date header
// has only whole seconds.
const serverTimeHeader = "X-Jetq-Time"

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
