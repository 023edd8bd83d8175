package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// service is the app behind a real HTTP server, its worker running.
type service struct {
	a    *app
	http *httptest.Server
	stop func(ctx context.Context) error
}

func startService(t *testing.T, js jetstream.JetStream, dataDir string, processTime time.Duration) *service {
	t.Helper()
	a, err := newApp(js, config{dataDir: dataDir, processTime: processTime}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.runWorker(ctx); close(done) }()
	s := &service{a: a, http: httptest.NewServer(a.routes())}
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
	resp, err := http.Post(s.http.URL+path, contentType, bytes.NewReader(body))
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
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		code, st := s.task(t, id)
		if code != http.StatusOK {
			t.Fatalf("GET /tasks/%s: %d", id, code)
		}
		if len(seen) == 0 || seen[len(seen)-1] != st.State {
			seen = append(seen, st.State)
		}
		if st.State == want {
			return seen, st
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s: states %v, never %s", id, seen, want)
		}
	}
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
	s := startService(t, js, t.TempDir(), time.Millisecond)
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
	s := startService(t, js, t.TempDir(), time.Millisecond)

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

func TestUploadProcessingSurvivesServiceRestart(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	dir := t.TempDir()
	first := startService(t, js, dir, 3*time.Second)
	id := upload(t, first, "report.csv", "a,b\n1,2\n")
	first.follow(t, id, status.Running)

	// The service restarts before the slow step finishes: its worker hands
	// the task back at the shutdown deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = first.stop(ctx)

	second := startService(t, js, dir, 100*time.Millisecond)
	_, last := second.follow(t, id, status.Done)
	if last.Attempt != 2 || last.Progress == nil || last.Progress.Percent != 100 {
		t.Errorf("after the restart: %+v", last)
	}
}
