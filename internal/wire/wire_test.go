package wire

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/tasks"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// render writes a message the way the golden files keep it: subject, sorted
// headers, blank line, body.
func render(m *nats.Msg) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "subject: %s\n", m.Subject)
	keys := make([]string, 0, len(m.Header))
	for k := range m.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range m.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	fmt.Fprintf(&b, "\n%s\n", m.Data)
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/wire -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed; the wire format is frozen.\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

var at = time.Date(2026, 11, 25, 9, 30, 0, 123456789, time.UTC)

func TestTaskMessageGolden(t *testing.T) {
	t.Parallel()
	spec := tasks.Define[map[string]string]("email.send", tasks.WithQueue("critical")).Spec()
	env := NewEnvelope(Names{}, spec, "0193a4f2-7b1c-7def-8123-456789abcdef", []byte(`{"to":"ada@example.com"}`), at)
	env.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	golden(t, "task_v1.txt", render(Msg(env)))
}

// TestDelayedTaskMessageGolden freezes a delayed task with a deadline as
// it waits in the schedule stream: on its own schedule subject, with the
// server's scheduling headers and nothing that is not sent.
func TestDelayedTaskMessageGolden(t *testing.T) {
	t.Parallel()
	spec := tasks.Define[map[string]string]("email.send", tasks.WithQueue("critical")).Spec()
	env := NewEnvelope(Names{}, spec, "0193a4f2-7b1c-7def-8123-456789abcdef", []byte(`{"to":"ada@example.com"}`), at)
	SetDeadline(env, at.Add(time.Hour))
	Delay(env, Names{}, at.Add(time.Minute))
	env.Header.Set(HeaderScheduledAt, FormatTime(at)) // Delay sets the time of the call
	golden(t, "delayed_task_v1.txt", render(Msg(env)))
	if !Delayed(env) {
		t.Error("Delayed: false after Delay, want true")
	}
	if env.Subject != "jetq.task.critical.email.send" {
		t.Errorf("Subject %q after Delay, want the task subject, as middleware see it", env.Subject)
	}
}

func TestDeadLetterGolden(t *testing.T) {
	t.Parallel()
	orig := nats.Header{
		"Nats-Msg-Id":      {"0193a4f2-7b1c-7def-8123-456789abcdef"},
		"Jetq-Id":          {"0193a4f2-7b1c-7def-8123-456789abcdef"},
		"Jetq-Task":        {"email.send"},
		"Jetq-Queue":       {"critical"},
		"Jetq-Enqueued-At": {"2026-11-25T09:29:59.000000000Z"},
		"Jetq-Version":     {"1"},
		"Content-Type":     {"application/json"},
		"traceparent":      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
	f := Failure{
		Reason: tasks.ReasonMaxAttempts, Error: "smtp: 550 mailbox unavailable\nat line 2",
		Stream: "JETQ_TASKS", Seq: 42, Subject: "jetq.task.critical.email.send", Deliveries: 5, At: at,
		StoredAt: at.Add(-time.Second),
	}
	rec := DeadLetter(Names{}, "critical", "email.send", orig, []byte(`{"to":"ada@example.com"}`), f, Limits{})
	golden(t, "deadletter_v1.txt", render(rec))

	back, err := ParseFailure(rec.Header)
	if err != nil {
		t.Fatal(err)
	}
	f.Error = "smtp: 550 mailbox unavailable | at line 2"
	f.StoredAt = time.Time{} // in the record's ID, not a header of its own
	if back != f {
		t.Errorf("ParseFailure: got %+v, want %+v", back, f)
	}
}

func TestDeadLetterKeepsTaskIDOfRawMessages(t *testing.T) {
	t.Parallel()
	rec := DeadLetter(Names{}, "default", "x", nats.Header{"Nats-Msg-Id": {"raw-1"}, "Nats-Expected-Stream": {"S"}}, nil,
		Failure{Reason: tasks.ReasonPermanent, Stream: "JETQ_TASKS", Seq: 9, At: at}, Limits{})
	if got := rec.Header.Get(HeaderID); got != "raw-1" {
		t.Errorf("Jetq-Id %q, want raw-1", got)
	}
	if got := rec.Header.Get("Nats-Expected-Stream"); got != "" {
		t.Errorf("server-interpreted header kept: %q", got)
	}
	rec = DeadLetter(Names{}, "default", "x", nil, nil, Failure{Reason: tasks.ReasonPermanent, Stream: "JETQ_TASKS", Seq: 9, At: at}, Limits{})
	if got := rec.Header.Get(HeaderID); got != "JETQ_TASKS:9" {
		t.Errorf("Jetq-Id of a message without IDs %q, want JETQ_TASKS:9", got)
	}
}

func TestErrorTextIsBounded(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 3000) // 6000 bytes
	got := headerSafe(long, MaxErrorLen)
	if len(got) > MaxErrorLen || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "éé") {
		t.Errorf("len %d, suffix %q", len(got), got[len(got)-6:])
	}
	for _, r := range got[:len(got)-len("…")] {
		if r != 'é' {
			t.Fatalf("cut inside a rune: %q", r)
		}
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	n, err := NewNames("billing")
	if err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		n.WorkStream():                  "BILLING_TASKS",
		n.DLQStream():                   "BILLING_DLQ",
		n.EventsStream():                "BILLING_EVENTS",
		n.WorkSubjects():                "billing.task.>",
		n.TaskSubject("default", "a.b"): "billing.task.default.a.b",
		n.DLQSubject("default", "a.b"):  "billing.dlq.default.a.b",
		n.Durable("default", "a.b.c"):   "default:a:b:c",
		Names{}.WorkStream():            "JETQ_TASKS",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	q, name, err := n.ParseTaskSubject("billing.task.critical.invoice.send")
	if err != nil || q != "critical" || name != "invoice.send" {
		t.Errorf("ParseTaskSubject: %q %q %v", q, name, err)
	}
	for _, bad := range []string{"jetq.task.default.x", "billing.task.default", "billing.task.Default.x"} {
		if _, _, err := n.ParseTaskSubject(bad); err == nil {
			t.Errorf("ParseTaskSubject(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"Jetq", "a.b", "9lives", strings.Repeat("a", 33)} {
		if _, err := NewNames(bad); err == nil {
			t.Errorf("NewNames(%q) accepted", bad)
		}
	}
}

func TestNewIDIsSortableUUIDv7(t *testing.T) {
	t.Parallel()
	prev := NewID()
	for range 10000 {
		id := NewID()
		if len(id) != 36 || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("not a UUIDv7: %s", id)
		}
		if id <= prev {
			t.Fatalf("not increasing: %s then %s", prev, id)
		}
		prev = id
	}
}

func TestNewIDIsUniqueAcrossGoroutines(t *testing.T) {
	t.Parallel()
	const goroutines, each = 8, 5000
	ids := make(chan string, goroutines*each)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				ids <- NewID()
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := make(map[string]bool, goroutines*each)
	for id := range ids {
		if seen[id] {
			t.Fatalf("ID %s handed out twice", id)
		}
		seen[id] = true
	}
}

func TestDeadLetterAlwaysFits(t *testing.T) {
	t.Parallel()
	lim := Limits{Header: MaxHeaderBytes, Payload: 1 << 20}
	long := strings.Repeat("e", 3*MaxErrorLen)
	for _, hsize := range []int{0, 1 << 10, 60 << 10, MaxHeaderBytes - 300} {
		for _, bsize := range []int{0, 100, 900 << 10, lim.Payload - hsize - 400} {
			h := nats.Header{"Jetq-Id": {"id-1"}, "Jetq-Task": {"x"}, "Jetq-Queue": {"default"}, "traceparent": {"00-aa-bb-01"}}
			if hsize > 0 {
				h["X-Big"] = []string{strings.Repeat("h", hsize)}
			}
			body := bytes.Repeat([]byte("b"), max(bsize, 0))
			f := Failure{Reason: tasks.ReasonPermanent, Error: long, Stream: "JETQ_TASKS", Seq: 7, StoredAt: at, At: at}
			rec := DeadLetter(Names{}, "default", "x", h, body, f, lim)
			name := fmt.Sprintf("headers %d, body %d", hsize, bsize)
			if n := HeaderSize(rec.Header); n > lim.Header || n+len(rec.Data) > lim.Payload {
				t.Errorf("%s: record of %d header bytes and %d body bytes does not fit %+v", name, n, len(rec.Data), lim)
			}
			whole := HeaderSize(h)+len(body)+8*1024 <= lim.Payload && HeaderSize(h)+8*1024 <= lim.Header
			if truncated := Original(rec.Header) != ""; whole && truncated {
				t.Errorf("%s: truncated a record that fits whole", name)
			}
			if Original(rec.Header) != "" && Original(rec.Header) != rec.Header.Get(HeaderMsgID) {
				t.Errorf("%s: original stored as %q, want the record's ID %q", name, Original(rec.Header), rec.Header.Get(HeaderMsgID))
			}
			if _, err := ParseFailure(rec.Header); err != nil || rec.Header.Get(HeaderID) != "id-1" || rec.Header.Get("traceparent") == "" {
				t.Errorf("%s: record lost its failure (%v), ID or trace context", name, err)
			}
		}
	}
}

func TestTruncatedDeadLetterGolden(t *testing.T) {
	t.Parallel()
	orig := nats.Header{
		"Jetq-Id":      {"0193a4f2-7b1c-7def-8123-456789abcdef"},
		"Jetq-Task":    {"report.build"},
		"Jetq-Queue":   {"default"},
		"Jetq-Version": {"1"},
		"Content-Type": {"application/json"},
		"X-Big":        {strings.Repeat("h", 200)},
	}
	f := Failure{
		Reason: tasks.ReasonPermanent, Error: "too big", Stream: "JETQ_TASKS", Seq: 3,
		Subject: "jetq.task.default.report.build", StoredAt: at.Add(-time.Second), Deliveries: 1, At: at,
	}
	body := []byte(`{"rows":"` + strings.Repeat("r", 300) + `"}`)
	rec := DeadLetter(Names{}, "default", "report.build", orig, body, f, Limits{Payload: 900})
	golden(t, "deadletter_truncated_v1.txt", render(rec))

	b, err := EncodeOriginal(orig, body)
	if err != nil {
		t.Fatal(err)
	}
	h, data, err := DecodeOriginal(b)
	if err != nil || !bytes.Equal(data, body) || h.Get("X-Big") != orig.Get("X-Big") || len(h) != len(orig) {
		t.Errorf("original round trip: %v, %d bytes, %d headers", err, len(data), len(h))
	}
}

func TestTimeHeadersRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 3, 4, 5, 6, time.FixedZone("east", 5*3600+30*60))
	s := FormatTime(at)
	if s != "2026-11-30T21:34:05.000000006Z" {
		t.Errorf("FormatTime = %q, want UTC with nanoseconds", s)
	}
	back, err := ParseTime(s)
	if err != nil || !back.Equal(at) {
		t.Errorf("ParseTime(%q) = %v, %v; want %v", s, back, err, at)
	}
}
