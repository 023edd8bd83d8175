package dashboard

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jetq/jetq/inspect"
)

// pauseFor are the lengths the pause form offers; "" pauses until resumed.
var pauseFor = []struct{ Value, Label string }{
	{"", "until resumed"},
	{"15m", "for 15 minutes"},
	{"1h", "for 1 hour"},
	{"4h", "for 4 hours"},
	{"24h", "for 24 hours"},
}

// The flashes of pause and resume.
const (
	donePaused  = "paused"
	doneResumed = "resumed"
)

// pauseScope reads a scope from a form value: "" for every queue,
// "<queue>" or "<queue>/<task>".
func pauseScope(v string) inspect.Scope {
	q, t, _ := strings.Cut(strings.TrimSpace(v), "/")
	return inspect.Scope{Queue: q, Task: t}
}

// pauseQueues pauses the scope its form names (scope) for the length it
// names (for), and goes back to the overview.
func (d *Dashboard) pauseQueues(w http.ResponseWriter, r *http.Request) {
	s := pauseScope(r.PostFormValue("scope"))
	var until time.Time
	if v := r.PostFormValue("for"); v != "" {
		n, err := time.ParseDuration(v)
		if err != nil || n <= 0 {
			d.fail(w, r, http.StatusBadRequest, fmt.Errorf("for must be a positive duration such as 1h, or empty to pause until resumed; got %q", v))
			return
		}
		until = time.Now().Add(n)
	}
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	if err := d.in.Pause(ctx, s, until); err != nil {
		d.fail(w, r, inspectCode(err), err)
		return
	}
	d.stats.drop()
	d.cfg.log.LogAttrs(r.Context(), slog.LevelInfo, "jetq dashboard: paused", slog.String("scope", s.String()),
		slog.Time("until", until), slog.String("remote", r.RemoteAddr))
	http.Redirect(w, r, d.path("/?done="+donePaused), http.StatusSeeOther)
}

// resumeQueues resumes the scope its form names (scope), and goes back to
// the overview.
func (d *Dashboard) resumeQueues(w http.ResponseWriter, r *http.Request) {
	s := pauseScope(r.PostFormValue("scope"))
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	if err := d.in.Resume(ctx, s); err != nil {
		d.fail(w, r, inspectCode(err), err)
		return
	}
	d.stats.drop()
	d.cfg.log.LogAttrs(r.Context(), slog.LevelInfo, "jetq dashboard: resumed", slog.String("scope", s.String()),
		slog.String("remote", r.RemoteAddr))
	http.Redirect(w, r, d.path("/?done="+doneResumed), http.StatusSeeOther)
}

// pauseFlash is the message of a pause or resume's redirect.
func pauseFlash(done string) string {
	switch done {
	case donePaused:
		return "Paused. Tasks stay queued; running handlers finish."
	case doneResumed:
		return "Resumed."
	}
	return ""
}

// PauseLengths are the lengths the pause form offers.
func (Overview) PauseLengths() []struct{ Value, Label string } { return pauseFor }

// scopeValue is the form value of s, read back by pauseScope.
func scopeValue(s inspect.Scope) string {
	if s.Task == "" {
		return s.Queue
	}
	return s.Queue + "/" + s.Task
}

// PauseScopes are the scopes the pause form offers: every queue, each
// queue, each task type.
func (o Overview) PauseScopes() []inspect.Scope {
	out := []inspect.Scope{{}}
	for i, q := range o.Queues {
		if i == 0 || o.Queues[i-1].Queue != q.Queue {
			out = append(out, inspect.Scope{Queue: q.Queue})
		}
		out = append(out, inspect.Scope{Queue: q.Queue, Task: q.Task})
	}
	return out
}
