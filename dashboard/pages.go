package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/wire"
)

// taskView is what the task page shows of one task.
type taskView struct {
	inspect.Lookup
	Payload string // of the work-stream message, pretty-printed
	// Headers of the work-stream message, Hidden those left out with the
	// payload; Actions what may be done to the task.
	Headers [][2]string
	Hidden  int
	Actions []refAction
	// Workflow is the ID of the workflow the task is a step of, as its
	// message or dead-letter record says (header Jetq-Workflow); "" for
	// none, or a step whose message is gone and never dead-lettered.
	Workflow string
	// Result is the start of a stored result, pretty-printed when it is
	// JSON; Cut says it is longer than shown.
	Result string
	Cut    bool
}

// resultPreview is how many bytes of a result the task page shows.
const resultPreview = 1024

// workflowOf is the workflow res's task is a step of, as its message or
// its newest dead-letter record names it.
func workflowOf(res inspect.Lookup) string {
	if res.Work != nil {
		if id := res.Work.Header.Get(wire.HeaderWorkflow); id != "" {
			return id
		}
	}
	for i := len(res.DeadLetters) - 1; i >= 0; i-- {
		if id := res.DeadLetters[i].Header.Get(wire.HeaderWorkflow); id != "" {
			return id
		}
	}
	return ""
}

// stepOf is the workflow whose step is task id, found by the step's task
// ID, "<workflow ID>:<step>" (wire.StepTaskID), when neither the task's
// message nor a dead-letter record is there to name it (a step done); ""
// for a task that is no step.
func (d *Dashboard) stepOf(ctx context.Context, id string) string {
	wid, _, ok := cutLast(id, ":")
	if !ok {
		return ""
	}
	w, err := d.in.Workflow(ctx, wid)
	if err != nil {
		return ""
	}
	for _, s := range w.Steps {
		if s.TaskID == id {
			return w.ID
		}
	}
	return ""
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// preview is the start of result b: pretty-printed JSON when it is JSON
// and short enough, else its first resultPreview bytes as text, or a note
// for bytes that are not text.
func preview(b []byte) (text string, cut bool) {
	if len(b) <= resultPreview && json.Valid(b) {
		return pretty(b), false
	}
	head := b[:min(len(b), resultPreview)]
	for i := 1; i < utf8.UTFMax && len(head) > 0 && !utf8.Valid(head); i++ {
		head = head[:len(head)-1] // a rune cut at the end
	}
	if !utf8.Valid(head) {
		return "(binary: not shown)", false
	}
	return string(head), len(head) < len(b)
}

func (d *Dashboard) task(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	if id == "" {
		d.render(w, r, http.StatusOK, "task", "Find a task", (*taskView)(nil))
		return
	}
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	res, err := d.in.Find(ctx, id)
	if err != nil {
		d.fail(w, r, http.StatusBadGateway, err)
		return
	}
	v := &taskView{Lookup: res, Actions: foundActions(res)}
	if res.Work != nil {
		v.Headers, v.Hidden = headerRows(res.Work.Header, d.cfg.hidePayloads)
	}
	if m := res.Work; m != nil && d.cfg.hidePayloads {
		m.Payload, m.Header = nil, nil
	} else if m != nil {
		v.Payload = pretty(m.Payload)
	}
	v.Workflow = workflowOf(res)
	if v.Workflow == "" {
		v.Workflow = d.stepOf(ctx, id)
	}
	if st := res.Status; st != nil && len(st.Result) > 0 && !d.cfg.hidePayloads {
		v.Result, v.Cut = preview(st.Result)
	}
	code := http.StatusOK
	if !res.Found() {
		code = http.StatusNotFound
	}
	d.render(w, r, code, "task", "Task "+id, v)
}

func (d *Dashboard) readWorkers(r *http.Request) ([]inspect.Worker, error) {
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	ws, err := d.in.Workers(ctx)
	return orEmpty(ws), err
}

// scheduledView is the scheduled page's data.
type scheduledView struct {
	Delayed  []inspect.TaskInfo
	Next     template.URL // the query of the next page of delayed tasks
	Periodic []inspect.PeriodicTask
	Paused   []inspect.QueueStats
	Notes    []string
}

// delayedPageSize is how many delayed tasks the scheduled page shows.
const delayedPageSize = 100

func (d *Dashboard) scheduled(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	var v scheduledView
	page, err := d.in.Tasks(ctx, inspect.Query{State: inspect.Scheduled, Limit: delayedPageSize, Token: r.URL.Query().Get("page")})
	switch {
	case err == nil:
		v.Delayed = page.Tasks
		if page.Next != "" {
			v.Next = template.URL("page=" + url.QueryEscape(page.Next))
		}
	case errors.Is(err, inspect.ErrUnsupported):
		v.Notes = append(v.Notes, "This server has no message schedules (nats-server 2.14 or newer has).")
	default:
		v.Notes = append(v.Notes, "delayed tasks: "+err.Error())
	}
	if ps, err := d.in.PeriodicTasks(ctx); err == nil {
		v.Periodic = ps
	} else if !errors.Is(err, inspect.ErrUnsupported) {
		v.Notes = append(v.Notes, "periodic tasks: "+err.Error())
	}
	if rows, err := d.stats.get(ctx, d.in); err == nil {
		v.Paused = slices.DeleteFunc(slices.Clone(rows), func(s inspect.QueueStats) bool { return !s.Paused })
	} else {
		v.Notes = append(v.Notes, "queues: "+err.Error())
	}
	d.render(w, r, http.StatusOK, "scheduled", "Scheduled", v)
}
