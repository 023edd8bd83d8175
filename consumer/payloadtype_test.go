package consumer_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// lockedBuffer is a bytes.Buffer a worker writes its log to while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// MailArgs is another service's payload for a task also called email.send.
type MailArgs struct {
	Address string `json:"address"`
}

// TestPayloadTypeCollision runs two services that define email.send with
// different payload types: the second worker warns, naming both types and
// the durable, still serves, and records its own type.
func TestPayloadTypeCollision(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const durable = "default:email:send"

	first := tasks.Define[Args]("email.send")
	reg1 := tasks.NewRegistry()
	tasks.MustHandle(reg1, first, func(context.Context, *tasks.Task[Args]) error { return nil })
	var log1 lockedBuffer
	w1 := jetqtest.StartWorker(t, b.srv, reg1, consumer.WithLogger(slog.New(slog.NewTextHandler(&log1, nil))))
	metaOf := func() map[string]string {
		c, err := b.js.Consumer(ctx, "JETQ_TASKS", durable)
		if err != nil {
			return nil
		}
		return c.CachedInfo().Config.Metadata
	}
	const argsType = "github.com/jetq/jetq/consumer_test.Args"
	testkit.WaitFor(t, 10*time.Second, func() error { return recorded(metaOf(), argsType) })
	if s := metaOf()[wire.MetaPayloadSchema]; s != first.Spec().PayloadSchema || !strings.Contains(s, `"n"`) {
		t.Errorf("schema recorded %q, want %q", s, first.Spec().PayloadSchema)
	}
	w1.Cancel()
	if err := w1.Wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log1.String(), "collision") {
		t.Errorf("the first worker warned of a collision:\n%s", log1.String())
	}

	second := tasks.Define[MailArgs]("email.send")
	reg2 := tasks.NewRegistry()
	ran := make(chan string, 1)
	tasks.MustHandle(reg2, second, func(_ context.Context, tk *tasks.Task[MailArgs]) error {
		ran <- tk.Payload.Address
		return nil
	})
	var log2 lockedBuffer
	jetqtest.StartWorker(t, b.srv, reg2, consumer.WithLogger(slog.New(slog.NewTextHandler(&log2, nil))))
	const mailType = "github.com/jetq/jetq/consumer_test.MailArgs"
	testkit.WaitFor(t, 10*time.Second, func() error { return recorded(metaOf(), mailType) })
	var warning string
	for line := range strings.Lines(log2.String()) {
		if strings.Contains(line, "task name collision") {
			warning = line
		}
	}
	for _, want := range []string{"level=WARN", "recorded_type=" + argsType, "payload_type=" + mailType, "consumer=" + durable, "task=email.send"} {
		if !strings.Contains(warning, want) {
			t.Errorf("warning %q does not say %q; log:\n%s", warning, want, log2.String())
		}
	}
	// It still serves the task.
	if _, err := producer.Enqueue(ctx, b.p, second, MailArgs{Address: "ada@example.com"}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ran:
		if got != "ada@example.com" {
			t.Errorf("ran with %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second worker did not run the task")
	}
}

// recorded says why the durable's metadata meta does not record payload
// type want, if it does not.
func recorded(meta map[string]string, want string) error {
	if got := meta[wire.MetaPayloadType]; got != want {
		return fmt.Errorf("payload type recorded %q, want %q", got, want)
	}
	return nil
}
