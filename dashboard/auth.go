package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// sessionCookie is the cookie of a browser signed in with the token.
const sessionCookie = "jetq_dashboard_session"

// sessionLife is how long a sign-in lasts; the server checks it, not only
// the browser.
const sessionLife = 12 * time.Hour

// session is the cookie value of a browser signed in at t: t and a keyed
// hash of it, so that the cookie neither reveals the token nor outlives
// sessionLife.
func (d *Dashboard) session(t time.Time) string {
	at := strconv.FormatInt(t.Unix(), 10)
	return at + "." + d.mac(at)
}

func (d *Dashboard) mac(at string) string {
	m := hmac.New(sha256.New, []byte(d.cfg.token))
	m.Write([]byte("jetq dashboard session " + at))
	return hex.EncodeToString(m.Sum(nil))
}

// validSession reports whether v is a session of this token not older
// than sessionLife.
func (d *Dashboard) validSession(v string, now time.Time) bool {
	at, sum, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	unix, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return false
	}
	t := time.Unix(unix, 0)
	if now.Sub(t) > sessionLife || t.After(now.Add(time.Minute)) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(sum), []byte(d.mac(at))) == 1
}

// allowed reports whether r may act: actions are on and r carries the
// token or a signed-in browser's cookie.
func (d *Dashboard) allowed(r *http.Request) bool {
	if !d.cfg.actions {
		return false
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return subtle.ConstantTimeCompare([]byte(tok), []byte(d.cfg.token)) == 1
	}
	c, err := r.Cookie(sessionCookie)
	return err == nil && d.validSession(c.Value, time.Now())
}

// act refuses an action to a request that may not act.
func (d *Dashboard) act(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.cfg.actions {
			d.fail(w, r, http.StatusForbidden, errors.New("actions are disabled on this dashboard; start it with --allow-actions (dashboard.WithActions) to replay, delete or purge"))
			return
		}
		if !d.allowed(r) {
			d.fail(w, r, http.StatusForbidden, errors.New("this action needs the dashboard's token: sign in with it first"))
			return
		}
		h(w, r)
	}
}

func (d *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "login", "Sign in", map[string]any{"Next": safeNext(r.URL.Query().Get("next"))})
}

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	if !d.cfg.actions {
		d.fail(w, r, http.StatusForbidden, errors.New("actions are disabled on this dashboard: there is nothing to sign in for"))
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("token")), []byte(d.cfg.token)) != 1 {
		d.cfg.log.LogAttrs(r.Context(), slog.LevelWarn, "jetq dashboard: sign-in with a wrong token", slog.String("remote", r.RemoteAddr))
		d.render(w, r, http.StatusForbidden, "login", "Sign in", map[string]any{"Next": next, "Error": "That is not the dashboard's token."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: d.session(time.Now()), Path: d.path("/"),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r), MaxAge: int(sessionLife / time.Second)})
	http.Redirect(w, r, d.path(next), http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: d.path("/"), MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r)})
	http.Redirect(w, r, d.path("/"), http.StatusSeeOther)
}

// secure reports a request that came over TLS, here or at a proxy in
// front that says so.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// safeNext is p if it is a path within the dashboard to go back to after
// signing in, else "/": no scheme, no host, no control characters or
// backslashes that a browser would read as another site.
func safeNext(p string) string {
	if p == "" || p[0] != '/' || strings.ContainsFunc(p, func(c rune) bool { return c < 0x21 || c == 0x7f || c == '\\' }) {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(path.Clean(u.Path), "//") || strings.HasPrefix(p, "//") {
		return "/"
	}
	return p
}
