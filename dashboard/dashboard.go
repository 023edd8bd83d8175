package dashboard

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/metrics"
)

// Dashboard is the dashboard's http.Handler. It is safe for concurrent use.
type Dashboard struct {
	js      jetstream.JetStream
	cfg     config
	names   wire.Names
	in      *inspect.Inspector
	handler http.Handler
	pages   map[string]*template.Template
	history history
	stats   statsCache
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
	if err := cfg.pub.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	d := &Dashboard{js: js, cfg: cfg, names: wire.NamesOf(cfg.pub)}
	var err error
	if d.in, err = inspect.New(js, inspect.WithTopology(cfg.pub), inspect.WithLogger(cfg.log)); err != nil {
		return nil, err
	}
	if d.cfg.metrics == nil {
		m, err := metrics.New(js, metrics.WithTopology(cfg.pub), metrics.WithLogger(cfg.log))
		if err != nil {
			return nil, err
		}
		d.cfg.metrics = m.Handler()
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
	m.HandleFunc("GET /tasks/{state}", d.taskList)
	m.HandleFunc("GET /workflow", d.findWorkflow)
	m.HandleFunc("GET /workflow/{id}", d.workflow)
	m.HandleFunc("POST /workflow/{id}/cancel", d.act(d.cancelWorkflow))
	m.HandleFunc("POST /task/{action}", d.act(d.taskAct))
	m.HandleFunc("POST /tasks/bulk/{action}", d.act(d.taskBulk))
	m.HandleFunc("POST /scheduled/periodic/remove", d.act(d.removePeriodic))
	m.HandleFunc("POST /queues/pause", d.act(d.pauseQueues))
	m.HandleFunc("POST /queues/resume", d.act(d.resumeQueues))
	m.HandleFunc("GET /login", d.loginForm)
	m.HandleFunc("POST /login", d.login)
	m.HandleFunc("POST /logout", d.logout)
	m.Handle("GET /metrics", d.cfg.metrics)
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
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store") // pages show payloads and live counts
	d.handler.ServeHTTP(w, r)
}

// reqCtx bounds the server requests of one page.
func (d *Dashboard) reqCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d.cfg.timeout)
}

// path is the URL path of the dashboard page p.
func (d *Dashboard) path(p string) string { return d.cfg.base + p }
