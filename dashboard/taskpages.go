package dashboard

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/inspect"
)

// taskPageSize is how many tasks a list page shows.
const taskPageSize = 50

// states are the task lists, in the order of the page's tabs.
var states = []inspect.State{inspect.Pending, inspect.Running, inspect.Retrying, inspect.Scheduled, inspect.Completed, inspect.Failed}

// taskListView is a task list's page data.
type taskListView struct {
	State  inspect.State
	States []inspect.State
	// The filter as the form shows it.
	Queue, Task, Since, Until, Where string
	Tasks                            []inspect.TaskInfo
	// Filter is the list's filter as a query, for the tabs, the first page
	// and the bulk forms; Next the query of the next page, "" on the last.
	Filter, Next template.URL
	Paged        bool // this is not the first page
	// Partial says the page stopped at inspect's scan bound, Scanned
	// messages read, before it was full: more may match further on.
	Partial bool
	Scanned int
	// Note is what the list says it could not show or how far it read.
	Note  string
	Form  url.Values   // the filter, for the bulk forms
	Back  string       // this page, for the actions to return to
	Bulk  []taskAction // what the bulk form offers for this state
	Match [][2]string  // what the filter selects, in words
}

// stateOf reads the list a path names, as inspect.ParseState does: an
// error that lists the others for an unknown one.
func stateOf(s string) (inspect.State, error) {
	st, err := inspect.ParseState(s)
	if err != nil {
		return "", fmt.Errorf("no task list %q: %w", s, err)
	}
	return st, nil
}

// taskQuery reads a task list's query from a URL query or form: task as
// "queue/task" or a bare task name, queue, since and until as the
// dead-letter filter reads them, where as path=value, and page, a token
// of the page before's Next.
func taskQuery(state inspect.State, q url.Values) (inspect.Query, error) {
	iq := inspect.Query{State: state, Limit: taskPageSize, Token: q.Get("page")}
	iq.Task, iq.Queue = strings.TrimSpace(q.Get("task")), strings.TrimSpace(q.Get("queue"))
	if queue, task, ok := strings.Cut(iq.Task, "/"); ok {
		iq.Queue, iq.Task = queue, task
	}
	var err error
	if iq.Since, err = parseTime("since", q.Get("since"), false); err != nil {
		return iq, err
	}
	if iq.Until, err = parseTime("until", q.Get("until"), true); err != nil {
		return iq, err
	}
	if !iq.Since.IsZero() && !iq.Until.IsZero() && !iq.Since.Before(iq.Until) {
		return iq, fmt.Errorf("since (%s) must be before until (%s)", when(iq.Since), when(iq.Until))
	}
	if iq.Where, err = parseWhere(q.Get("where")); err != nil {
		return iq, err
	}
	return iq, nil
}

// parseWhere reads a payload filter "path=value" as inspect.ParseMatch
// does: a value that does not read as JSON is a string, so that
// customer.email=ada@example.com needs no quotes.
func parseWhere(s string) (*inspect.Match, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m, err := inspect.ParseMatch(s)
	if err != nil {
		return nil, fmt.Errorf("the payload filter %q: %w", s, err)
	}
	return m, nil
}

// whereText is m as the filter's form writes it.
func whereText(m *inspect.Match) string {
	if m == nil {
		return ""
	}
	var s string
	if json.Unmarshal([]byte(m.Value), &s) == nil && !json.Valid([]byte(s)) && strings.TrimSpace(s) == s && s != "" {
		return m.Path + "=" + s // a plain string reads back the same unquoted
	}
	return m.Path + "=" + m.Value
}

// taskFilterQuery is q's filter as a URL query, without its page token;
// times to the nanosecond, so that a bulk action and the next page select
// what this page did.
func taskFilterQuery(q inspect.Query) url.Values {
	return queryOf(map[string]string{"queue": q.Queue, "task": q.Task, "since": exactTime(q.Since), "until": exactTime(q.Until),
		"where": whereText(q.Where)})
}

// exactTime is t in RFC 3339 to the nanosecond, "" for none.
func exactTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// queryOf is the query of the fields with a value.
func queryOf(fields map[string]string) url.Values {
	q := url.Values{}
	for k, v := range fields {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// taskMatching describes what q selects, in words.
func taskMatching(q inspect.Query) [][2]string {
	return described([][2]string{{"queue", q.Queue}, {"task", q.Task}, {"enqueued since", when(q.Since)},
		{"enqueued until", when(q.Until)}, {"payload", whereText(q.Where)}})
}

// described keeps the conditions of a filter that select something:
// those with a value other than "" and when's "-".
func described(conds [][2]string) [][2]string {
	return slices.DeleteFunc(conds, func(c [2]string) bool { return c[1] == "" || c[1] == "-" })
}

// listPath is the path and query of the list of state filtered as q.
func listPath(state inspect.State, q url.Values) string {
	p := "/tasks/" + string(state)
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

// inspectCode is the status an error of package inspect answers with:
// 400 for a query that does not read, 404 for a task that is not there,
// 409 for one that moved on, 502 for the others, the server's.
func inspectCode(err error) int {
	switch {
	case errors.Is(err, inspect.ErrInvalidQuery):
		return http.StatusBadRequest
	case errors.Is(err, inspect.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, inspect.ErrMovedOn):
		return http.StatusConflict
	}
	return http.StatusBadGateway
}

func (d *Dashboard) taskList(w http.ResponseWriter, r *http.Request) {
	state, err := stateOf(r.PathValue("state"))
	if err != nil {
		d.fail(w, r, http.StatusNotFound, err)
		return
	}
	q, err := taskQuery(state, r.URL.Query())
	if err != nil {
		d.fail(w, r, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	p, err := d.in.Tasks(ctx, q)
	if err != nil {
		d.fail(w, r, inspectCode(err), err)
		return
	}
	filter := taskFilterQuery(q)
	v := taskListView{State: state, States: states, Queue: q.Queue, Task: q.Task, Since: inputTime(q.Since), Until: inputTime(q.Until),
		Where: whereText(q.Where), Tasks: p.Tasks, Filter: query(filter), Paged: q.Token != "", Form: filter,
		Back: r.URL.RequestURI(), Match: taskMatching(q), Partial: p.Partial, Scanned: p.Scanned, Note: p.Note}
	if p.Next != "" {
		next := taskFilterQuery(q)
		next.Set("page", p.Next)
		v.Next = query(next)
	}
	for _, a := range taskActions {
		if a.State == state {
			v.Bulk = append(v.Bulk, a)
		}
	}
	if d.cfg.hidePayloads {
		for i := range v.Tasks {
			v.Tasks[i].Payload, v.Tasks[i].Header = nil, nil
		}
	}
	d.render(w, r, http.StatusOK, "tasks", strings.ToUpper(string(state[:1]))+string(state[1:])+" tasks", v)
}

// refAction is an action the task page offers on the task it shows.
type refAction struct {
	taskAction
	Ref inspect.Ref
}

// foundActions are the actions on a task found by ID: delete while it is
// queued, run now while it is scheduled, retry now while it waits out a
// backoff, and cancel while it is scheduled, queued or running.
func foundActions(res inspect.Lookup) []refAction {
	var out []refAction
	add := func(state inspect.State, seq uint64) {
		for _, a := range taskActions {
			if a.State == state {
				out = append(out, refAction{a, inspect.Ref{ID: res.ID, Seq: seq}})
			}
		}
	}
	if w := res.Work; w != nil && w.State == inspect.WorkQueued {
		add(inspect.Pending, w.Seq)
	}
	if w := res.Work; w != nil && w.State == inspect.WorkWaitingToRetry {
		add(inspect.Retrying, w.Seq)
	}
	if s := res.Scheduled; s != nil {
		add(inspect.Scheduled, s.Seq)
	} else if w := res.Work; w != nil {
		// Cancel takes a task in any state (inspect.Inspector.Cancel).
		for _, a := range taskActions {
			if a.Action == inspect.ActionCancel {
				out = append(out, refAction{a, inspect.Ref{ID: res.ID, Seq: w.Seq}})
			}
		}
	}
	return out
}

// headerRows are the rows of a headers table, sorted; with hide, only
// jetq's and the server's, and the number of the others left out.
func headerRows(h nats.Header, hide bool) (rows [][2]string, hidden int) {
	for k, vals := range h {
		if hide && !shownHeader(k) {
			hidden++
			continue
		}
		for _, v := range vals {
			rows = append(rows, [2]string{k, v})
		}
	}
	slices.SortFunc(rows, func(a, b [2]string) int { return cmp.Compare(a[0], b[0]) })
	return rows, hidden
}
