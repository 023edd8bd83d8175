package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
)

type config struct {
	addr        string
	dataDir     string
	processTime time.Duration
	// tracerProvider and propagators trace the requests and the tasks they
	// enqueue; nil means the otel globals, which main sets up.
	tracerProvider trace.TracerProvider
	propagators    propagation.TextMapPropagator
	// webhookURL is where the client hears that an upload is processed;
	// "" means the service's own POST /webhooks/file-processed, at the
	// address it serves (see app.serving).
	webhookURL string
}

// EmailArgs is the payload of email.send, and the body of POST /send-email.
type EmailArgs struct {
	Recipient string `json:"recipient"`
	Content   string `json:"content"`
}

// FieldErrors maps each invalid field to what is wrong with it.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	parts := make([]string, 0, len(f))
	for _, k := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, k+": "+f[k])
	}
	return strings.Join(parts, "; ")
}

// Validate checks every field and reports all that are wrong; jetq runs it
// at enqueue and again at the worker.
func (a EmailArgs) Validate() error {
	errs := FieldErrors{}
	switch addr, err := mail.ParseAddress(a.Recipient); {
	case strings.TrimSpace(a.Recipient) == "":
		errs["recipient"] = "is required"
	case err != nil:
		errs["recipient"] = "is not an email address"
	case addr.Address != a.Recipient:
		errs["recipient"] = "must be a bare address like ada@example.com"
	case !strings.Contains(addr.Address[strings.LastIndex(addr.Address, "@")+1:], "."):
		errs["recipient"] = "needs a domain with a dot"
	}
	switch {
	case strings.TrimSpace(a.Content) == "":
		errs["content"] = "is required"
	case len(a.Content) > 10_000:
		errs["content"] = "is longer than 10000 characters"
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// FileArgs is the payload of file.process.
type FileArgs struct {
	Path string `json:"path"`
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// The tasks of the service. The first two track their state for
// GET /tasks/{id}; NotifyClient is the success callback of ProcessFile.
var (
	SendEmail = tasks.Define[EmailArgs]("email.send", tasks.WithStateTracking(),
		tasks.WithMaxAttempts(4), tasks.WithTimeout(30*time.Second),
		tasks.WithBackoff(tasks.Backoff{Initial: time.Second, Max: 10 * time.Second}))
	ProcessFile = tasks.Define[FileArgs]("file.process", tasks.WithStateTracking(),
		tasks.WithMaxAttempts(5), tasks.WithTimeout(10*time.Minute))
	// NotifyClient posts to the client's webhook once a file is processed.
	// ProcessFile returns no result, so its callback takes struct{} and
	// reads the processed task's ID from tasks.HeaderParent.
	NotifyClient = tasks.Define[struct{}]("webhook.notify",
		tasks.WithMaxAttempts(10), tasks.WithTimeout(30*time.Second),
		tasks.WithBackoff(tasks.Backoff{Initial: time.Second, Max: time.Minute}))
)

// FileProcessed is the body of the webhook: the upload's task is done.
type FileProcessed struct {
	Event  string `json:"event"`
	TaskID string `json:"task_id"`
}

// app is the service: HTTP routes, a producer, a worker and a tracker.
type app struct {
	cfg     config
	log     *slog.Logger
	p       *producer.Producer
	w       *consumer.Worker
	tracker *inspect.Inspector
	uploads string

	// background counts in-process work started after a response.
	background sync.WaitGroup

	// base is the URL the service serves at, once it does (serving).
	base atomic.Pointer[string]
	// notified holds the webhooks the service received as the client.
	mu       sync.Mutex
	notified []FileProcessed
}

func newApp(js jetstream.JetStream, cfg config, log *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: log, uploads: filepath.Join(cfg.dataDir, "uploads")}
	if err := os.MkdirAll(a.uploads, 0o755); err != nil {
		return nil, err
	}
	// One trace per request: its server span, the enqueue under it, every
	// attempt under the enqueue, and the dead-letter record under the last.
	traced := []tracing.Option{tracing.WithTracerProvider(cfg.tracerProvider), tracing.WithPropagators(cfg.propagators)}
	var err error
	if a.p, err = producer.New(js, producer.WithLogger(log), producer.WithMiddleware(tracing.Producer(traced...))); err != nil {
		return nil, err
	}
	if a.tracker, err = inspect.New(js); err != nil {
		return nil, err
	}
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, SendEmail, a.sendEmail)
	tasks.MustHandle(reg, ProcessFile, a.processFile)
	tasks.MustHandle(reg, NotifyClient, a.notifyClient)
	if a.w, err = consumer.New(js, reg, consumer.WithLogger(log), consumer.WithShutdownTimeout(10*time.Second),
		consumer.WithMiddleware(tracing.Consumer(traced...)),
		consumer.WithDeadLetterMiddleware(tracing.DeadLetter(traced...))); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *app) runWorker(ctx context.Context) error { return a.w.Run(ctx) }

// serving records the URL the service serves at, such as
// "http://127.0.0.1:8080": its own webhook receiver is there.
func (a *app) serving(base string) { a.base.Store(&base) }

func (a *app) stopWorker(ctx context.Context) error { return a.w.Shutdown(ctx) }

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	// Each route gets a server span named after its pattern, such as
	// "POST /send-email", with http.route, and continues the caller's trace
	// when the request has a traceparent header. The handlers enqueue with
	// r.Context(), which holds the span.
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, otelhttp.NewHandler(h, pattern,
			otelhttp.WithTracerProvider(a.cfg.tracerProvider), otelhttp.WithPropagators(a.cfg.propagators)))
	}
	handle("POST /send-email", a.postSendEmail)
	handle("POST /upload-file", a.postUploadFile)
	handle("GET /tasks/{id}", a.getTask)
	handle("POST /webhooks/file-processed", a.postWebhook)
	return mux
}

func (a *app) postSendEmail(w http.ResponseWriter, r *http.Request) {
	var args EmailArgs
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&args); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": FieldErrors{"body": bodyError(err)}})
		return
	}
	if dec.More() {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": FieldErrors{"body": "must hold one JSON object"}})
		return
	}
	res, err := producer.Enqueue(r.Context(), a.p, SendEmail, args)
	var fe FieldErrors
	switch {
	case errors.As(err, &fe):
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": fe})
		return
	case err != nil:
		a.enqueueFailed(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": res.ID, "status": "/tasks/" + res.ID})
}

// bodyError says what is wrong with a body that is not an EmailArgs object.
func bodyError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var maxErr *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return "is empty; send a JSON object with recipient and content"
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %q must be a %s", typeErr.Field, typeErr.Type)
	case errors.As(err, &maxErr):
		return fmt.Sprintf("is larger than %d bytes", maxErr.Limit)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "is not valid JSON: " + err.Error()
}

func (a *app) postUploadFile(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<20)
	file, hdr, err := r.FormFile("file")
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": FieldErrors{"file": "send a multipart/form-data body with a file field: " + err.Error()}})
		return
	}
	defer file.Close()
	name := filepath.Base(hdr.Filename)
	if name == "." || name == string(filepath.Separator) || name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": FieldErrors{"file": "has no file name"}})
		return
	}
	dst, err := os.CreateTemp(a.uploads, "*-"+name)
	if err != nil {
		a.serverError(w, err)
		return
	}
	size, err := io.Copy(dst, file)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst.Name())
		a.serverError(w, err)
		return
	}
	// Once processed, the client is told through its webhook: the worker
	// enqueues NotifyClient before it acknowledges the upload's task, so
	// the callback is enqueued once, even if the worker dies between. Its
	// post is at least once, like any task's work (a worker that dies
	// after posting, before its ack, posts again): a client keys on
	// task_id to act once.
	res, err := producer.Enqueue(r.Context(), a.p, ProcessFile, FileArgs{Path: dst.Name(), Name: name, Size: size},
		producer.OnSuccess(NotifyClient))
	if err != nil {
		os.Remove(dst.Name())
		a.enqueueFailed(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": res.ID, "status": "/tasks/" + res.ID})

	// The fast step runs in-process right after the response: it is cheap,
	// and losing it in a crash costs nothing.
	a.background.Add(1)
	go func() {
		defer a.background.Done()
		a.log.Info("upload received", "file", name, "bytes", size, "task_id", res.ID)
	}()
}

func (a *app) getTask(w http.ResponseWriter, r *http.Request) {
	st, err := a.tracker.Status(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, status.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no task with ID " + r.PathValue("id")})
	case err != nil:
		a.serverError(w, err)
	default:
		writeJSON(w, http.StatusOK, st)
	}
}

// enqueueFailed answers a failed enqueue: a full queue is worth a retry.
func (a *app) enqueueFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, producer.ErrQueueFull) {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the queue is full; try again shortly"})
		return
	}
	a.serverError(w, err)
}

func (a *app) serverError(w http.ResponseWriter, err error) {
	a.log.Error("request failed", "error", err)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// sendEmail is the email.send handler. Recipients at invalid.example never
// exist (dead-lettered at once); a "+flaky" recipient fails its first attempt.
func (a *app) sendEmail(ctx context.Context, t *tasks.Task[EmailArgs]) error {
	to := t.Payload.Recipient
	switch {
	case strings.HasSuffix(to, "@invalid.example"):
		return tasks.Permanent(fmt.Errorf("smtp 550: mailbox %s does not exist", to))
	case strings.Contains(to, "+flaky") && t.Attempt == 1:
		return errors.New("smtp 421: try again later")
	}
	a.log.Info("email sent", "to", to, "task_id", t.ID, "attempt", t.Attempt)
	return nil
}

// processFile is the slow file.process handler: it hashes the upload, taking
// the configured processing time, and reports its progress.
func (a *app) processFile(ctx context.Context, t *tasks.Task[FileArgs]) error {
	f, err := os.Open(t.Payload.Path)
	if errors.Is(err, os.ErrNotExist) {
		return tasks.Permanent(fmt.Errorf("upload %s is gone", t.Payload.Path))
	}
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	const steps = 10
	for i := 1; i <= steps; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(a.cfg.processTime / steps):
		}
		_ = tasks.ReportProgress(ctx, float64(i*100/steps), fmt.Sprintf("step %d of %d", i, steps))
	}
	a.log.Info("file processed", "file", t.Payload.Name, "sha256", hex.EncodeToString(h.Sum(nil)), "task_id", t.ID)
	return nil
}

// notifyClient is the webhook.notify handler: it posts FileProcessed to the
// client's webhook. A 5xx or a network error is retried with backoff; a 4xx
// is not.
func (a *app) notifyClient(ctx context.Context, t *tasks.Task[struct{}]) error {
	url := a.cfg.webhookURL
	if url == "" {
		base := a.base.Load()
		if base == nil {
			return errors.New("the service is not serving yet")
		}
		url = *base + "/webhooks/file-processed"
	}
	body, err := json.Marshal(FileProcessed{Event: "file.processed", TaskID: t.Header.Get(tasks.HeaderParent)})
	if err != nil {
		return tasks.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return tasks.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 500:
		return fmt.Errorf("webhook %s: %s", url, resp.Status)
	case resp.StatusCode >= 300:
		return tasks.Permanent(fmt.Errorf("webhook %s: %s", url, resp.Status))
	}
	return nil
}

// postWebhook is the client's side of the webhook, served here so that the
// example runs to the end by itself: it logs the notification.
func (a *app) postWebhook(w http.ResponseWriter, r *http.Request) {
	var n FileProcessed
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&n); err != nil || n.TaskID == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send a FileProcessed JSON object"})
		return
	}
	a.mu.Lock()
	a.notified = append(a.notified, n)
	a.mu.Unlock()
	a.log.Info("client notified: file processed", "task_id", n.TaskID)
	writeJSON(w, http.StatusOK, map[string]string{"status": "received"})
}

// notifications are the webhooks the service received as the client.
func (a *app) notifications() []FileProcessed {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.notified)
}
