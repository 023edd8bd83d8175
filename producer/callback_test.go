package producer_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// textCodec is a codec other than JSON.
type textCodec struct{}

func (textCodec) ContentType() string                { return "text/plain" }
func (textCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (textCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func TestCallbackOptionsAreCheckedAtTheCall(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t)
	ctx := context.Background()
	notify := tasks.Define[struct{}]("email.sent")
	failed := tasks.Define[tasks.Failure]("email.failed")
	mail := Email{To: "a@b.c"}
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		opts     []producer.EnqueueOption
		mentions string
	}{
		"nil success callback": {[]producer.EnqueueOption{producer.OnSuccess[struct{}](nil)}, "OnSuccess got a nil task definition"},
		"nil pointer success callback": {[]producer.EnqueueOption{producer.OnSuccess((*tasks.Definition[struct{}])(nil))},
			"OnSuccess got a nil task definition"},
		"nil result definition": {[]producer.EnqueueOption{producer.OnSuccess((*tasks.ResultDefinition[struct{}, int])(nil))},
			"OnSuccess got a nil task definition"},
		"nil failure callback": {[]producer.EnqueueOption{producer.OnFailure(nil)}, "OnFailure got a nil task definition"},
		"zero callback":        {[]producer.EnqueueOption{producer.OnSuccess(&tasks.Definition[struct{}]{})}, "task name is empty"},
		"success callback twice": {[]producer.EnqueueOption{producer.OnSuccess(notify), producer.OnSuccess(notify)},
			"OnSuccess given twice"},
		"failure callback twice": {[]producer.EnqueueOption{producer.OnFailure(failed), producer.OnFailure(failed)},
			"OnFailure given twice"},
		"callback payload is not the result": {[]producer.EnqueueOption{producer.OnSuccess(sendEmail)},
			"task email.send declares no result, so its success callback takes struct{}, not github.com/jetq/jetq/producer_test.Email"},
		"success callback with another codec": {[]producer.EnqueueOption{
			producer.OnSuccess(tasks.Define[struct{}]("email.sent.text", tasks.WithCodec(textCodec{})))}, "give it the JSON codec, not text/plain"},
		"failure callback with another codec": {[]producer.EnqueueOption{
			producer.OnFailure(tasks.Define[tasks.Failure]("email.failed.text", tasks.WithCodec(textCodec{})))}, "give it the JSON codec"},
	} {
		_, err := producer.Enqueue(ctx, p, sendEmail, mail, tc.opts...)
		if !errors.Is(err, producer.ErrInvalidOption) || !strings.Contains(err.Error(), tc.mentions) {
			t.Errorf("%s: Enqueue: got %v, want an error wrapping ErrInvalidOption that mentions %q", name, err, tc.mentions)
		}
		_, err = producer.EnqueueBatch(ctx, p, sendEmail, []Email{mail, mail}, tc.opts...)
		if !errors.Is(err, producer.ErrInvalidOption) || !strings.Contains(err.Error(), tc.mentions) {
			t.Errorf("%s: EnqueueBatch: got %v, want an error wrapping ErrInvalidOption that mentions %q", name, err, tc.mentions)
		}
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 0 {
		t.Errorf("work stream holds %d tasks, want none", n)
	}
}

func TestCallbacksTravelInHeaders(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t)
	ctx := context.Background()
	notify := tasks.Define[struct{}]("email.sent", tasks.WithQueue("notices"))
	failed := tasks.Define[tasks.Failure]("email.failed")
	rs, err := producer.EnqueueBatch(ctx, p, sendEmail, []Email{{To: "a@b.c"}, {To: "d@e.f"}},
		producer.OnSuccess(notify), producer.OnFailure(failed))
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		m, err := s.GetMsg(ctx, r.Sequence)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := m.Header.Get(wire.HeaderOnSuccess), "notices email.sent application/json"; got != want {
			t.Errorf("%s: %s, want %q", wire.HeaderOnSuccess, got, want)
		}
		if got, want := m.Header.Get(wire.HeaderOnFailure), "default email.failed application/json"; got != want {
			t.Errorf("%s: %s, want %q", wire.HeaderOnFailure, got, want)
		}
	}
}

// A group's tasks take callbacks as Enqueue's do: checked when the group
// is enqueued, which then enqueues nothing if one is refused, and carried
// in each task's headers.
func TestCallbacksOfAGroup(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t)
	ctx := context.Background()
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	notify := tasks.Define[struct{}]("email.sent")
	bad := producer.NewGroup()
	producer.Add(bad, sendEmail, Email{To: "a@b.c"}, producer.OnSuccess(notify))
	producer.Add(bad, sendEmail, Email{To: "d@e.f"}, producer.OnSuccess(sendEmail))
	if _, err := producer.EnqueueGroup(ctx, p, bad); !errors.Is(err, producer.ErrInvalidOption) ||
		!strings.Contains(err.Error(), "its success callback takes struct{}") {
		t.Errorf("a group with a mismatched callback: got %v, want an error wrapping ErrInvalidOption", err)
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 0 {
		t.Fatalf("work stream holds %d tasks after a refused group, want none", n)
	}
	g := producer.NewGroup()
	producer.Add(g, sendEmail, Email{To: "a@b.c"}, producer.OnSuccess(notify))
	producer.Add(g, sendEmail, Email{To: "d@e.f"})
	rs, err := producer.EnqueueGroup(ctx, p, g)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"default email.sent application/json", ""} {
		m, err := s.GetMsg(ctx, rs[i].Sequence)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header.Get(wire.HeaderOnSuccess); got != want {
			t.Errorf("task %d: %s %q, want %q", i, wire.HeaderOnSuccess, got, want)
		}
	}
}
