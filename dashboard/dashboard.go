package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/lookup"
	"github.com/jetq/jetq/metrics"
	"github.com/jetq/jetq/queues"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/topology"
)

// ErrInvalidOption is wrapped by the errors of [New] about its options.
var ErrInvalidOption = errors.New("dashboard: invalid option")

// Option configures a [Dashboard]; pass options to [New].
type Option func(*config)

type config struct {
	pub          topology.Topology
	base         string
	token        string
	actions      bool
	hidePayloads bool
	log          *slog.Logger
	timeout      time.Duration
	metrics      http.Handler
}

// WithTopology sets the deployment's topology; give the same one as to its
// producers and workers. Only its Prefix matters: a dashboard creates
// nothing. Default: the zero Topology.
func WithTopology(t topology.Topology) Option { return func(c *config) { c.pub = t } }

// WithPrefix sets the prefix of the deployment's stream and subject names.
// Default "jetq".
func WithPrefix(prefix string) Option { return func(c *config) { c.pub.Prefix = prefix } }

// WithBasePath sets the path the dashboard is mounted at, such as "/jetq"
// for a handler registered on "/jetq/": its links and forms start with it,
// and it is stripped from the requests' paths. Default "", the root.
func WithBasePath(path string) Option {
	return func(c *config) { c.base = strings.TrimSuffix(path, "/") }
}

// WithActions allows replay, delete and purge to whoever holds token:
// a browser signed in with it, or a request with the header
// "Authorization: Bearer <token>". The token must be at least 16 bytes.
// Without this option the dashboard only reads.
func WithActions(token string) Option {
	return func(c *config) { c.actions, c.token = true, token }
}

// WithHidePayloads keeps task payloads off every page and out of the JSON
// API, for deployments where payloads hold personal data.
func WithHidePayloads() Option { return func(c *config) { c.hidePayloads = true } }

// WithLogger sets where the dashboard logs the actions taken and the
// errors it answers with. Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithTimeout bounds the server requests behind one page. Default 10 s.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithMetrics serves h at /metrics instead of the dashboard's own
// metrics.Metrics, such as the Handler of one whose MeterProvider the
// process's workers record to. Default: the Handler of a metrics.New on
// the dashboard's connection and topology.
func WithMetrics(h http.Handler) Option { return func(c *config) { c.metrics = h } }

// minTokenLen is the shortest action token accepted.
const minTokenLen = 16

// Dashboard is the dashboard's http.Handler. It is safe for concurrent use.
type Dashboard struct {
	cfg       config
	names     wire.Names
	queues    *queues.Inspector
	dlq       *dlq.Inspector
	lookup    *lookup.Finder
	schedules *schedule.Schedules
	mux       *http.ServeMux
	handler   http.Handler
	pages     map[string]*template.Template
	history   history
	session   string // the cookie value of a signed-in browser
}

//go:embed web
var web embed.FS

// New returns a dashboard reading through js. It does no I/O. It returns
// an error wrapping [ErrInvalidOption] for a nil js, a bad prefix or base
// path, or an action token that is too short.
func New(js jetstream.JetStream, opts ...Option) (*Dashboard, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
	}
	cfg := config{log: slog.Default(), timeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&cfg)
	}
	switch {
	case cfg.actions && len(cfg.token) < minTokenLen:
		return nil, fmt.Errorf("%w: the action token must be at least %d bytes, got %d; make one with `openssl rand -hex 16`",
			ErrInvalidOption, minTokenLen, len(cfg.token))
	case cfg.base != "" && (!strings.HasPrefix(cfg.base, "/") || strings.ContainsAny(cfg.base, "?#\"'<> ")):
		return nil, fmt.Errorf("%w: base path %q must start with / and hold no ?, #, quotes, <, > or spaces", ErrInvalidOption, cfg.base)
	case cfg.timeout <= 0:
		return nil, fmt.Errorf("%w: timeout must be positive, got %v", ErrInvalidOption, cfg.timeout)
	case cfg.log == nil:
		cfg.log = slog.New(slog.DiscardHandler)
	}
	topo, err := wire.FromPublic(cfg.pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	d := &Dashboard{cfg: cfg, names: topo.Names}
	prefix := queues.WithTopology(cfg.pub)
	if d.queues, err = queues.New(js, prefix); err != nil {
		return nil, err
	}
	if d.dlq, err = dlq.NewInspector(js, dlq.WithTopology(cfg.pub), dlq.WithLogger(cfg.log)); err != nil {
		return nil, err
	}
	if d.lookup, err = lookup.New(js, lookup.WithTopology(cfg.pub)); err != nil {
		return nil, err
	}
	if d.schedules, err = schedule.New(js, schedule.WithTopology(cfg.pub), schedule.WithLogger(cfg.log)); err != nil {
		return nil, err
	}
	if d.cfg.metrics == nil {
		m, err := metrics.New(js, metrics.WithTopology(cfg.pub), metrics.WithLogger(cfg.log))
		if err != nil {
			return nil, err
		}
		d.cfg.metrics = m.Handler()
	}
	if cfg.actions {
		mac := hmac.New(sha256.New, []byte(cfg.token))
		mac.Write([]byte("jetq dashboard session"))
		d.session = hex.EncodeToString(mac.Sum(nil))
	}
	if d.pages, err = parsePages(); err != nil {
		return nil, err
	}
	d.routes()
	return d, nil
}

func (d *Dashboard) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(web, "web/static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	overview, apiOverview := live(d, "overview", "Overview", d.readOverview)
	m.HandleFunc("GET /{$}", overview)
	m.HandleFunc("GET /api/overview", apiOverview)
	m.HandleFunc("GET /tasks", d.task)
	m.HandleFunc("GET /dlq", d.dlqList)
	m.HandleFunc("GET /dlq/{seq}", d.dlqRecord)
	m.HandleFunc("POST /dlq/{seq}/replay", d.act(d.replayOne))
	m.HandleFunc("POST /dlq/{seq}/delete", d.act(d.deleteOne))
	m.HandleFunc("POST /dlq/replay", d.act(d.bulk(bulkReplay)))
	m.HandleFunc("POST /dlq/purge", d.act(d.bulk(bulkPurge)))
	workers, apiWorkers := live(d, "workers", "Workers", d.readWorkers)
	m.HandleFunc("GET /workers", workers)
	m.HandleFunc("GET /api/workers", apiWorkers)
	m.HandleFunc("GET /scheduled", d.scheduled)
	m.HandleFunc("GET /login", d.loginForm)
	m.HandleFunc("POST /login", d.login)
	m.HandleFunc("POST /logout", d.logout)
	m.Handle("GET /metrics", d.cfg.metrics)
	d.mux = m
	var h http.Handler = m
	if d.cfg.base != "" {
		h = http.StripPrefix(d.cfg.base, h)
	}
	d.handler = http.NewCrossOriginProtection().Handler(h)
}

// ServeHTTP serves the dashboard's pages.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	d.handler.ServeHTTP(w, r)
}

// reqCtx bounds the server requests of one page.
func (d *Dashboard) reqCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d.cfg.timeout)
}

// sessionCookie is the cookie of a browser signed in with the token.
const sessionCookie = "jetq_dashboard_session"

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
	return err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(d.session)) == 1
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
	d.render(w, r, "login", "Sign in", map[string]any{"Next": safeNext(r.URL.Query().Get("next"))})
}

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	if !d.cfg.actions {
		d.fail(w, r, http.StatusForbidden, errors.New("actions are disabled on this dashboard: there is nothing to sign in for"))
		return
	}
	tok := r.PostFormValue("token")
	if subtle.ConstantTimeCompare([]byte(tok), []byte(d.cfg.token)) != 1 {
		d.cfg.log.LogAttrs(r.Context(), slog.LevelWarn, "jetq dashboard: sign-in with a wrong token", slog.String("remote", r.RemoteAddr))
		w.WriteHeader(http.StatusForbidden)
		d.render(w, r, "login", "Sign in", map[string]any{"Next": safeNext(r.PostFormValue("next")), "Error": "That is not the dashboard's token."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: d.session, Path: d.path("/"),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 12 * 3600})
	http.Redirect(w, r, d.path(safeNext(r.PostFormValue("next"))), http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: d.path("/"), MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, d.path("/"), http.StatusSeeOther)
}

// safeNext is a dashboard-relative path to go back to after signing in.
func safeNext(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.Contains(p, `\`) {
		return "/"
	}
	return p
}

// path is the URL path of the dashboard page p.
func (d *Dashboard) path(p string) string { return d.cfg.base + p }
