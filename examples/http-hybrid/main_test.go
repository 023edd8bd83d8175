package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// service is the app behind a real HTTP server, its worker running.
type service struct {
	a    *app
	http *httptest.Server
	stop func(ctx context.Context) error
}

func startService(t *testing.T, js jetstream.JetStream, cfg config) *service {
	t.Helper()
	a, err := newApp(js, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.runWorker(ctx); close(done) }()
	s := &service{a: a, http: httptest.NewServer(a.routes())}
	a.serving(s.http.URL)
	stopped := false
	s.stop = func(sctx context.Context) error {
		if stopped {
			return nil
		}
		stopped = true
		s.http.Close()
		a.background.Wait()
		err := a.stopWorker(sctx)
		cancel()
		<-done
		return err
	}
	t.Cleanup(func() { _ = s.stop(context.Background()) })
	return s
}

func (s *service) post(t *testing.T, path, contentType string, body []byte) (int, map[string]any) {
	t.Helper()
	return s.postWith(t, path, contentType, body, nil)
}

// postWith posts body with the headers in header as well.
func (s *service) postWith(t *testing.T, path, contentType string, body []byte, header http.Header) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.http.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: %d with a body that is not JSON: %v", path, resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

func (s *service) task(t *testing.T, id string) (int, status.Status) {
	t.Helper()
	resp, err := http.Get(s.http.URL + "/tasks/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st status.Status
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return resp.StatusCode, st
}

// follow polls GET /tasks/{id} and returns every state it saw, until want.
func (s *service) follow(t *testing.T, id string, want status.State) (seen []status.State, last status.Status) {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, func() error {
		code, st := s.task(t, id)
		if code != http.StatusOK {
			t.Fatalf("GET /tasks/%s: %d", id, code)
		}
		if len(seen) == 0 || seen[len(seen)-1] != st.State {
			seen = append(seen, st.State)
		}
		if last = st; st.State != want {
			return fmt.Errorf("task %s: states %v, never %s", id, seen, want)
		}
		return nil
	})
	return seen, last
}

func workStreamMsgs(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), "JETQ_TASKS")
	if err != nil {
		return 0 // never created: nothing enqueued
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq // every sequence ever stored counts, even if acked since
}

func TestBadRequestsAre400AndEnqueueNothing(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	s := startService(t, js, config{dataDir: t.TempDir(), processTime: time.Millisecond})
	for _, tc := range []struct {
		body  string
		field string
	}{
		{``, "body"},
		{`not json`, "body"},
		{`{"recipient": 42, "content": "x"}`, "body"},
		{`{"recipient": "ada@example.com", "content": "x", "cc": "bob@example.com"}`, "body"},
		{`{"recipient": "ada@example.com", "content": "x"} {"again": true}`, "body"},
		{`{"recipient": "ada@example.com"}`, "content"},
		{`{"recipient": "ada@example.com", "content": "   "}`, "content"},
		{`{"content": "hello"}`, "recipient"},
		{`{"recipient": "not an address", "content": "hello"}`, "recipient"},
		{`{"recipient": "Ada <ada@example.com>", "content": "hello"}`, "recipient"},
		{`{"recipient": "ada@localhost", "content": "hello"}`, "recipient"},
	} {
		code, out := s.post(t, "/send-email", "application/json", []byte(tc.body))
		errs, _ := out["errors"].(map[string]any)
		if code != http.StatusBadRequest || errs[tc.field] == nil {
			t.Errorf("body %q: %d %v, want 400 with an error for %q", tc.body, code, out, tc.field)
		}
	}
	code, out := s.post(t, "/send-email", "application/json", []byte(`{"content": ""}`))
	if errs, _ := out["errors"].(map[string]any); code != 400 || len(errs) != 2 {
		t.Errorf("two bad fields: %d %v, want both listed", code, out)
	}
	code, out = s.post(t, "/upload-file", "text/plain", []byte("no multipart here"))
	if errs, _ := out["errors"].(map[string]any); code != 400 || errs["file"] == nil {
		t.Errorf("upload without a file: %d %v", code, out)
	}
	if n := workStreamMsgs(t, js); n != 0 {
		t.Errorf("bad requests enqueued %d tasks", n)
	}
}

func TestTaskStatesThroughRetryDoneAndDeadLetter(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	s := startService(t, js, config{dataDir: t.TempDir(), processTime: time.Millisecond})

	code, out := s.post(t, "/send-email", "application/json", []byte(`{"recipient": "ada+flaky@example.com", "content": "hi"}`))
	if code != http.StatusAccepted || out["id"] == nil || out["status"] != "/tasks/"+out["id"].(string) {
		t.Fatalf("valid email: %d %v", code, out)
	}
	seen, last := s.follow(t, out["id"].(string), status.Done)
	if !contains(seen, status.Retrying) || last.Attempt != 2 {
		t.Errorf("flaky email: states %v, last %+v; want a retrying state and done on attempt 2", seen, last)
	}

	_, out = s.post(t, "/send-email", "application/json", []byte(`{"recipient": "bob@invalid.example", "content": "hi"}`))
	_, last = s.follow(t, out["id"].(string), status.DeadLettered)
	if last.Reason != tasks.ReasonPermanent || last.Error == "" {
		t.Errorf("dead-lettered email: %+v", last)
	}
	if code, _ := s.task(t, "no-such-task"); code != http.StatusNotFound {
		t.Errorf("unknown task: %d", code)
	}
}

func contains(states []status.State, s status.State) bool {
	for _, x := range states {
		if x == s {
			return true
		}
	}
	return false
}

func upload(t *testing.T, s *service, name, content string) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte(content))
	mw.Close()
	code, out := s.post(t, "/upload-file", mw.FormDataContentType(), body.Bytes())
	if code != http.StatusAccepted {
		t.Fatalf("upload: %d %v", code, out)
	}
	return out["id"].(string)
}

// An upload's processing ends with a webhook to the client, sent by the
// success callback of its task: once, with the task's ID.
func TestProcessedUploadNotifiesTheClient(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	s := startService(t, js, config{dataDir: t.TempDir(), processTime: 100 * time.Millisecond})
	id := upload(t, s, "report.csv", "a,b\n1,2\n")
	s.follow(t, id, status.Done)
	testkit.WaitFor(t, 30*time.Second, func() error {
		if len(s.a.notifications()) == 0 {
			return fmt.Errorf("no webhook for task %s", id)
		}
		return nil
	})
	jetqtest.WaitEmpty(t, js, "JETQ_TASKS") // a second webhook would be queued or running
	if got, want := s.a.notifications(), []FileProcessed{{Event: "file.processed", TaskID: id}}; !slices.Equal(got, want) {
		t.Errorf("webhooks %+v, want %+v", got, want)
	}
}

func TestUploadProcessingSurvivesServiceRestart(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	dir := t.TempDir()
	first := startService(t, js, config{dataDir: dir, processTime: 3 * time.Second})
	id := upload(t, first, "report.csv", "a,b\n1,2\n")
	first.follow(t, id, status.Running)

	// The service restarts before the slow step finishes: its worker hands
	// the task back at the shutdown deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = first.stop(ctx)

	second := startService(t, js, config{dataDir: dir, processTime: 100 * time.Millisecond})
	_, last := second.follow(t, id, status.Done)
	if last.Attempt != 2 || last.Progress == nil || last.Progress.Percent != 100 {
		t.Errorf("after the restart: %+v", last)
	}
}

// Span names of the email.send trace.
const (
	serverSpan  = "POST /send-email"
	sendSpan    = "send jetq.task.default.email.send"
	processSpan = "process jetq.task.default.email.send"
	deadSpan    = "send jetq.dlq.default.email.send"
)

// One request is one trace: its server span, the enqueue under it, every
// attempt under the enqueue, and the dead-letter record under the last.
func TestRequestTracesThroughEveryAttempt(t *testing.T) {
	t.Parallel()
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, tc := range []struct {
		name, recipient string
		traceparent     string   // the caller's, if any
		outcomes        []string // jetq.outcome of each attempt
	}{
		{"dead-lettered, in the caller's trace", "bob@invalid.example", "00-" + callerTrace + "-" + callerSpan + "-01", []string{"dead_letter"}},
		{"retried, in a trace of its own", "ada+flaky@example.com", "", []string{"retry", "ack"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			// A TCP listener, as in production: spans name the server's address.
			js := embeddedtest.JetStream(t, embedded.WithListen("127.0.0.1:0"))
			s := startService(t, js, config{dataDir: t.TempDir(), processTime: time.Millisecond, tracerProvider: tp,
				propagators: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})})

			header := http.Header{}
			if tc.traceparent != "" {
				header.Set("traceparent", tc.traceparent)
			}
			body := []byte(`{"recipient": "` + tc.recipient + `", "content": "hi"}`)
			if code, out := s.postWith(t, "/send-email", "application/json", body, header); code != http.StatusAccepted {
				t.Fatalf("POST /send-email: %d %v", code, out)
			}

			// The last span to end: the dead-letter publish's, else the last attempt's.
			want := map[string]int{serverSpan: 1, sendSpan: 1, processSpan: len(tc.outcomes)}
			if tc.outcomes[len(tc.outcomes)-1] == "dead_letter" {
				want[deadSpan] = 1
			}
			var spans map[string][]tracetest.SpanStub
			testkit.WaitFor(t, 30*time.Second, func() error {
				spans = byName(exp.GetSpans())
				for name, n := range want {
					if len(spans[name]) < n {
						return fmt.Errorf("%d %q spans, want %d", len(spans[name]), name, n)
					}
				}
				return nil
			})
			for name, got := range spans {
				if len(got) != want[name] {
					t.Errorf("%d %q spans, want %d", len(got), name, want[name])
				}
			}

			srv := spans[serverSpan][0]
			traceID := srv.SpanContext.TraceID()
			if tc.traceparent != "" {
				if traceID.String() != callerTrace || srv.Parent.SpanID().String() != callerSpan || !srv.Parent.IsRemote() {
					t.Errorf("server span: trace %s, parent %s (remote %v), want the caller's span %s in trace %s",
						traceID, srv.Parent.SpanID(), srv.Parent.IsRemote(), callerSpan, callerTrace)
				}
			} else if srv.Parent.IsValid() {
				t.Errorf("server span: parent %s, want none: it is the root", srv.Parent.SpanID())
			}
			if srv.SpanKind != trace.SpanKindServer {
				t.Errorf("server span: kind %v, want server", srv.SpanKind)
			}
			checkAttrs(t, srv, map[attribute.Key]string{"http.route": "/send-email", "http.response.status_code": "202"})

			for _, ss := range spans {
				for _, s := range ss {
					if s.SpanContext.TraceID() != traceID {
						t.Errorf("span %q in trace %s, want %s", s.Name, s.SpanContext.TraceID(), traceID)
					}
				}
			}
			_, port, err := net.SplitHostPort(js.Conn().ConnectedAddr())
			if err != nil {
				t.Fatal(err)
			}
			nats := map[attribute.Key]string{"server.address": "127.0.0.1", "server.port": port}
			send := spans[sendSpan][0]
			checkParent(t, send, srv)
			checkAttrs(t, send, nats)
			procs := spans[processSpan]
			slices.SortFunc(procs, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
			for i, p := range procs {
				// A child of send, not a root that links to it.
				checkParent(t, p, send)
				for _, l := range p.Links {
					t.Errorf("attempt %d: links to span %s, want no links", i+1, l.SpanContext.SpanID())
				}
				checkAttrs(t, p, map[attribute.Key]string{"jetq.task.attempt": strconv.Itoa(i + 1), "jetq.outcome": tc.outcomes[i]})
				checkAttrs(t, p, nats)
			}
			if dead := spans[deadSpan]; len(dead) == 1 {
				checkParent(t, dead[0], procs[len(procs)-1])
				checkAttrs(t, dead[0], map[attribute.Key]string{"jetq.dead_letter.reason": "permanent"})
				checkAttrs(t, dead[0], nats)
			}
		})
	}
}

func byName(spans tracetest.SpanStubs) map[string][]tracetest.SpanStub {
	out := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		out[s.Name] = append(out[s.Name], s)
	}
	return out
}

// checkParent fails the test unless parent is child's parent.
func checkParent(t *testing.T, child, parent tracetest.SpanStub) {
	t.Helper()
	if child.Parent.TraceID() != parent.SpanContext.TraceID() || child.Parent.SpanID() != parent.SpanContext.SpanID() {
		t.Errorf("span %q: parent %s, want %q (%s)", child.Name, child.Parent.SpanID(), parent.Name, parent.SpanContext.SpanID())
	}
}

// checkAttrs compares the attributes of s named in want, as strings, with want.
func checkAttrs(t *testing.T, s tracetest.SpanStub, want map[attribute.Key]string) {
	t.Helper()
	got := map[attribute.Key]string{}
	for _, kv := range s.Attributes {
		got[kv.Key] = kv.Value.Emit()
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("span %q: %s = %q (set: %v), want %q", s.Name, k, g, ok, w)
		}
	}
}
