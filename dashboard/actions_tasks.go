package dashboard

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/jetq/jetq/inspect"
)

// taskAction is an action on tasks of one state, one at a time from a
// list or a task's page, or in bulk over a list's filter.
type taskAction struct {
	Action inspect.Action
	State  inspect.State // the list whose tasks it takes
	Verb   string        // its button: "Delete"
	Past   string        // its flash: "deleted"
	Danger bool          // it loses the task: the button is red and asks first
}

// taskActions are the actions the lists offer.
var taskActions = []taskAction{
	{Action: inspect.ActionDelete, State: inspect.Pending, Verb: "Delete", Past: "deleted", Danger: true},
	{Action: inspect.ActionRunNow, State: inspect.Scheduled, Verb: "Run now", Past: "run now"},
	{Action: inspect.ActionCancel, State: inspect.Scheduled, Verb: "Cancel", Past: "cancelled", Danger: true},
	{Action: inspect.ActionRetry, State: inspect.Retrying, Verb: "Retry now", Past: "retried now"},
}

// actionOf is the action a path names.
func actionOf(s string) (taskAction, error) {
	for _, a := range taskActions {
		if string(a.Action) == s {
			return a, nil
		}
	}
	return taskAction{}, fmt.Errorf("no task action %q: the actions are delete (pending), run and cancel (scheduled) and retry (retrying)", s)
}

// do applies a to the task r names.
func (d *Dashboard) do(ctx context.Context, a taskAction, r inspect.Ref) error {
	switch a.Action {
	case inspect.ActionDelete:
		return d.in.Delete(ctx, r)
	case inspect.ActionRunNow:
		return d.in.RunNow(ctx, r)
	case inspect.ActionCancel:
		return d.in.Cancel(ctx, r)
	}
	return d.in.RetryNow(ctx, r)
}

// backToList is the list an action's form came from, read from its back
// value (a list's path and query) and written anew, so that it can name
// nothing else; the whole list of state when it does not read.
func backToList(back string, state inspect.State) (inspect.State, url.Values) {
	u, err := url.Parse(back)
	if err != nil {
		return state, url.Values{}
	}
	s, err := stateOf(strings.TrimPrefix(u.Path, "/tasks/"))
	if err != nil {
		return state, url.Values{}
	}
	q, err := taskQuery(s, u.Query())
	if err != nil {
		return s, url.Values{}
	}
	out := taskFilterQuery(q)
	if q.Token != "" {
		out.Set("page", q.Token)
	}
	return s, out
}

// taskActed redirects to the list back names, saying what was done.
func (d *Dashboard) taskActed(w http.ResponseWriter, r *http.Request, a taskAction, back string, res inspect.BulkResult) {
	state, q := backToList(back, a.State)
	q.Set("done", "task-"+string(a.Action))
	q.Set("n", strconv.Itoa(res.Done))
	if res.MovedOn > 0 {
		q.Set("moved", strconv.Itoa(res.MovedOn))
	}
	http.Redirect(w, r, d.path(listPath(state, q)), http.StatusSeeOther)
}

// taskFlash is the message of a task action's redirect, from fixed
// texts: "3 tasks deleted; 1 had moved on and was left alone."
func taskFlash(q url.Values) string {
	if q.Get("done") == donePeriodicRemoved {
		return "Periodic task removed."
	}
	name, ok := strings.CutPrefix(q.Get("done"), "task-")
	if !ok {
		return ""
	}
	a, err := actionOf(name)
	n, nerr := strconv.ParseUint(q.Get("n"), 10, 64)
	if err != nil || nerr != nil {
		return ""
	}
	s := fmt.Sprintf("%d %s %s.", n, plural(n, "task", "tasks"), a.Past)
	if moved, err := strconv.ParseUint(q.Get("moved"), 10, 64); err == nil && moved > 0 {
		s = fmt.Sprintf("%d %s %s; %d had moved on and %s left alone.", n, plural(n, "task", "tasks"), a.Past, moved, plural(moved, "was", "were"))
	}
	return s
}

func plural(n uint64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// taskAct applies the action of the request's path to the task its form
// names (id and seq), and goes back to the list in its back value.
func (d *Dashboard) taskAct(w http.ResponseWriter, r *http.Request) {
	a, err := actionOf(r.PathValue("action"))
	if err != nil {
		d.fail(w, r, http.StatusNotFound, err)
		return
	}
	ref := inspect.Ref{ID: strings.TrimSpace(r.PostFormValue("id"))}
	if s := r.PostFormValue("seq"); s != "" {
		if ref.Seq, err = strconv.ParseUint(s, 10, 64); err != nil {
			d.fail(w, r, http.StatusBadRequest, fmt.Errorf("seq must be the task's sequence in its stream, a number; got %q", s))
			return
		}
	}
	if ref.ID == "" {
		d.fail(w, r, http.StatusBadRequest, fmt.Errorf("%s needs the task's id", strings.ToLower(a.Verb)))
		return
	}
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	if err := d.do(ctx, a, ref); err != nil {
		d.fail(w, r, inspectCode(err), err)
		return
	}
	d.cfg.log.LogAttrs(r.Context(), slog.LevelInfo, "jetq dashboard: task "+a.Past, slog.String("id", ref.ID),
		slog.Uint64("seq", ref.Seq), slog.String("remote", r.RemoteAddr))
	d.taskActed(w, r, a, r.PostFormValue("back"), inspect.BulkResult{Done: 1})
}

// taskConfirmView is the confirmation page of a bulk action.
type taskConfirmView struct {
	taskAction
	Count  int
	Plan   string // the token of the plan the confirmation applies
	Form   url.Values
	Cancel string // the list's path and query
	Match  [][2]string
}

// taskBulk acts on every task of a list's filter: the first POST plans
// and shows how many on a confirmation page, whose POST (confirm=yes with
// the plan's token) applies that plan, on a context of its own bounded by
// BulkTimeout: the tasks counted and no other.
func (d *Dashboard) taskBulk(w http.ResponseWriter, r *http.Request) {
	a, err := actionOf(r.PathValue("action"))
	if err != nil {
		d.fail(w, r, http.StatusNotFound, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		d.fail(w, r, http.StatusBadRequest, err)
		return
	}
	q, err := taskQuery(a.State, r.PostForm)
	if err != nil {
		d.fail(w, r, http.StatusBadRequest, err)
		return
	}
	q.Token, q.Limit = "", 0
	form := taskFilterQuery(q)
	if r.PostForm.Get("confirm") != "yes" {
		ctx, cancel := context.WithTimeout(r.Context(), BulkTimeout)
		defer cancel()
		b, err := d.in.PlanBulk(ctx, a.Action, q)
		if err != nil {
			d.fail(w, r, inspectCode(err), err)
			return
		}
		d.render(w, r, http.StatusOK, "taskconfirm", a.Verb+" "+string(a.State)+" tasks", taskConfirmView{taskAction: a, Count: b.Count,
			Plan: b.Token, Form: form, Cancel: listPath(a.State, form), Match: taskMatching(q)})
		return
	}
	count, err := strconv.Atoi(r.PostForm.Get("count"))
	if err != nil || r.PostForm.Get("plan") == "" {
		d.fail(w, r, http.StatusBadRequest, fmt.Errorf("a confirmation carries the plan and the count its page showed; go back to the list and start again"))
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), BulkTimeout)
	defer cancel()
	res, err := d.in.ApplyBulk(ctx, inspect.Bulk{Action: a.Action, Query: q, Count: count, Token: r.PostForm.Get("plan")})
	attrs := []slog.Attr{slog.String("action", string(a.Action)), slog.Int("done", res.Done), slog.Int("moved_on", res.MovedOn),
		slog.String("filter", form.Encode()), slog.String("remote", r.RemoteAddr)}
	if err != nil {
		d.cfg.log.LogAttrs(r.Context(), slog.LevelWarn, "jetq dashboard: bulk task action failed", append(attrs, slog.String("error", err.Error()))...)
		if res.Done > 0 || res.MovedOn > 0 {
			err = fmt.Errorf("%d %s %s, %d moved on, then: %w", res.Done, plural(uint64(res.Done), "task", "tasks"), a.Past, res.MovedOn, err)
		}
		d.fail(w, r, inspectCode(err), err)
		return
	}
	d.cfg.log.LogAttrs(r.Context(), slog.LevelInfo, "jetq dashboard: bulk task action applied", attrs...)
	d.taskActed(w, r, a, listPath(a.State, form), res)
}

// removePeriodic removes the periodic declaration its form names, and
// goes back to the scheduled page.
func (d *Dashboard) removePeriodic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	if err := d.in.RemovePeriodic(ctx, name); err != nil {
		d.fail(w, r, inspectCode(err), err)
		return
	}
	d.cfg.log.LogAttrs(r.Context(), slog.LevelInfo, "jetq dashboard: periodic task removed", slog.String("name", name), slog.String("remote", r.RemoteAddr))
	http.Redirect(w, r, d.path("/scheduled?done="+donePeriodicRemoved+"&n=1"), http.StatusSeeOther)
}

// donePeriodicRemoved is the flash of a periodic declaration removed.
const donePeriodicRemoved = "periodic-removed"
