package producer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestWithKey carries a task's key in its header, and refuses a key that
// is empty, too long or holds a control character, storing nothing.
func TestWithKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	p, err := producer.New(js)
	if err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[string]("key.test")
	for _, bad := range []string{"", strings.Repeat("k", tasks.MaxKeyLen+1), "a\nb"} {
		_, err := producer.Enqueue(ctx, p, def, "x", producer.WithKey(bad))
		if !errors.Is(err, producer.ErrInvalidOption) || !errors.Is(err, tasks.ErrInvalidKey) {
			t.Errorf("key %q: got %v, want ErrInvalidOption wrapping tasks.ErrInvalidKey", bad, err)
		}
	}
	r, err := producer.Enqueue(ctx, p, def, "x", producer.WithKey("tenant-42"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stored %d tasks, want only the one with a valid key", info.State.Msgs)
	}
	m, err := s.GetMsg(ctx, r.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if got := tasks.KeyOf(tasks.Header(m.Header)); got != "tenant-42" {
		t.Errorf("key header %q, want tenant-42", got)
	}
}
