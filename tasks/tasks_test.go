package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/tasks"
)

type order struct {
	ID    int    `json:"id"`
	Email string `json:"email"`
}

func (o *order) Validate() error { // pointer receiver on purpose
	if o.ID <= 0 {
		return errors.New("id must be positive")
	}
	return nil
}

func TestDefineDefaults(t *testing.T) {
	t.Parallel()
	spec := tasks.Define[order]("shop.order").Spec()
	if spec.Queue != "default" || spec.MaxAttempts != 25 || spec.Timeout != 30*time.Minute || spec.Codec != tasks.JSON {
		t.Errorf("defaults: got %+v", spec)
	}
	if b := spec.Backoff.WithDefaults(); b.Initial != time.Second || b.Max != 10*time.Minute || b.Multiplier != 2 || b.Jitter != 0.2 {
		t.Errorf("backoff defaults: got %+v", b)
	}
}

func TestDefinePanicsOnInvalidName(t *testing.T) {
	t.Parallel()
	defer func() {
		v := recover()
		err, ok := v.(error)
		if !ok || !errors.Is(err, tasks.ErrInvalidName) || !strings.Contains(err.Error(), `"Shop.Order"`) {
			t.Errorf("panic value: got %v, want an ErrInvalidName naming the task", v)
		}
	}()
	tasks.Define[order]("Shop.Order")
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		opt  tasks.Option
		want error
	}{
		"zero attempts":      {tasks.WithMaxAttempts(0), tasks.ErrInvalidOption},
		"negative timeout":   {tasks.WithTimeout(-time.Second), tasks.ErrInvalidOption},
		"nil codec":          {tasks.WithCodec(nil), tasks.ErrInvalidOption},
		"queue with dots":    {tasks.WithQueue("a.b"), tasks.ErrInvalidName},
		"empty queue":        {tasks.WithQueue(""), tasks.ErrInvalidName},
		"multiplier below 1": {tasks.WithBackoff(tasks.Backoff{Multiplier: 0.5}), tasks.ErrInvalidOption},
		"jitter of 1":        {tasks.WithBackoff(tasks.Backoff{Jitter: 1}), tasks.ErrInvalidOption},
		"initial above max":  {tasks.WithBackoff(tasks.Backoff{Initial: time.Hour, Max: time.Minute}), tasks.ErrInvalidOption},
	} {
		if _, err := tasks.New[order]("shop.order", tc.opt); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
	for _, good := range []string{"a", "email.send", "billing_v2.charge-card", "a.b.c.d.e"} {
		if _, err := tasks.New[order](good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
}

func TestNewBoundsQueueAndNameTogether(t *testing.T) {
	t.Parallel()
	// The worker's durable consumer is named queue + ":" + name, and
	// nats-server refuses consumer names longer than 255 bytes.
	for name, tc := range map[string]struct {
		queue, task string
		ok          bool
	}{
		"longest name on the default queue": {"default", strings.Repeat("n", 200), true},
		"longest queue, 255 together":       {strings.Repeat("q", 64), strings.Repeat("n", 190), true},
		"longest queue, 256 together":       {strings.Repeat("q", 64), strings.Repeat("n", 191), false},
		"longest queue and longest name":    {strings.Repeat("q", 64), strings.Repeat("n.", 99) + "nn", false},
	} {
		_, err := tasks.New[order](tc.task, tasks.WithQueue(tc.queue))
		if tc.ok {
			if err != nil {
				t.Errorf("%s: got %v, want nil", name, err)
			}
			continue
		}
		if !errors.Is(err, tasks.ErrInvalidName) {
			t.Errorf("%s: got %v, want an error wrapping %v", name, err, tasks.ErrInvalidName)
			continue
		}
		total := fmt.Sprintf("len(queue)+1+len(name) is %d bytes, the limit is 255", len(tc.queue)+1+len(tc.task))
		for _, want := range []string{fmt.Sprintf("(%d bytes)", len(tc.task)), fmt.Sprintf("(%d bytes)", len(tc.queue)), total, "shorten the name or the queue"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: got %q, want it to contain %q", name, err, want)
			}
		}
	}
}

func TestDefinePanicsOnNameTooLongForItsQueue(t *testing.T) {
	t.Parallel()
	defer func() {
		v := recover()
		err, ok := v.(error)
		if !ok || !errors.Is(err, tasks.ErrInvalidName) || !strings.Contains(err.Error(), "265 bytes") {
			t.Errorf("panic value: got %v, want an ErrInvalidName giving the 265 bytes", v)
		}
	}()
	tasks.Define[order](strings.Repeat("n", 200), tasks.WithQueue(strings.Repeat("q", 64)))
}

func TestEncodeDecodeValidate(t *testing.T) {
	t.Parallel()
	def := tasks.Define[order]("shop.order")
	b, err := def.Encode(order{ID: 7, Email: "a@b.c"})
	if err != nil || string(b) != `{"id":7,"email":"a@b.c"}` {
		t.Fatalf("Encode: %s, %v", b, err)
	}
	if _, err := def.Encode(order{}); !errors.Is(err, tasks.ErrInvalidPayload) || !strings.Contains(err.Error(), "id must be positive") {
		t.Errorf("Encode invalid: %v", err)
	}
	v, err := def.Decode(b)
	if err != nil || v.ID != 7 {
		t.Errorf("Decode: %+v, %v", v, err)
	}
	for _, bad := range []string{`{"id":0}`, `{"id":`, `[]`} {
		if _, err := def.Decode([]byte(bad)); !errors.Is(err, tasks.ErrInvalidPayload) {
			t.Errorf("Decode(%s): %v", bad, err)
		}
	}
}

func TestOutcomeErrors(t *testing.T) {
	t.Parallel()
	cause := errors.New("card declined")
	p := fmt.Errorf("charge: %w", tasks.Permanent(cause))
	if !tasks.IsPermanent(p) || !errors.Is(p, cause) || tasks.IsPermanent(cause) {
		t.Errorf("IsPermanent on %v", p)
	}
	r := fmt.Errorf("charge: %w", tasks.RetryAfter(3*time.Second, cause))
	if d, ok := tasks.RetryDelay(r); !ok || d != 3*time.Second || !errors.Is(r, cause) {
		t.Errorf("RetryDelay: %v %v", d, ok)
	}
	if d, _ := tasks.RetryDelay(tasks.RetryAfter(-time.Second, nil)); d != 0 {
		t.Errorf("negative delay kept: %v", d)
	}
	if _, ok := tasks.RetryDelay(cause); ok {
		t.Error("plain error has a retry delay")
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	reg := tasks.NewRegistry()
	noop := func(context.Context, *tasks.Task[order]) error { return nil }
	a := tasks.Define[order]("b.task", tasks.WithQueue("low"))
	b := tasks.Define[order]("a.task", tasks.WithQueue("high"))
	tasks.MustHandle(reg, a, noop)
	tasks.MustHandle(reg, b, noop)
	if err := tasks.Handle(reg, a, noop); !errors.Is(err, tasks.ErrDuplicateHandler) {
		t.Errorf("duplicate: %v", err)
	}
	if err := tasks.Handle(reg, a, nil); !errors.Is(err, tasks.ErrInvalidOption) {
		t.Errorf("nil handler: %v", err)
	}
	if err := tasks.Handle(&tasks.Registry{}, a, noop); !errors.Is(err, tasks.ErrInvalidOption) {
		t.Errorf("zero registry: %v", err)
	}
	routes := reg.Routes()
	if len(routes) != 2 || routes[0].Spec.Name != "a.task" || routes[1].Spec.Name != "b.task" {
		t.Errorf("routes not ordered by queue then name: %+v", routes)
	}
}

func TestRouteHandlerDecodesAndRefusesWrongContentType(t *testing.T) {
	t.Parallel()
	reg := tasks.NewRegistry()
	var got *tasks.Task[order]
	tasks.MustHandle(reg, tasks.Define[order]("shop.order"), func(_ context.Context, tk *tasks.Task[order]) error {
		got = tk
		return nil
	})
	h := reg.Routes()[0].Handler
	env := &tasks.Envelope{ID: "x1", Name: "shop.order", Queue: "default", Attempt: 2, MaxAttempts: 3,
		Header: tasks.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"id":5}`)}
	if err := h(context.Background(), env); err != nil || got.Payload.ID != 5 || got.Attempt != 2 || got.ID != "x1" || got.LastAttempt() {
		t.Fatalf("handler: %v, task %+v", err, got)
	}
	env.Header.Set("Content-Type", "application/protobuf")
	if err := h(context.Background(), env); !errors.Is(err, tasks.ErrInvalidPayload) {
		t.Errorf("wrong content type: %v", err)
	}
}

func TestChainOrder(t *testing.T) {
	t.Parallel()
	var trail []string
	mw := func(name string) tasks.Middleware {
		return func(next tasks.Handler) tasks.Handler {
			return func(ctx context.Context, env *tasks.Envelope) error {
				trail = append(trail, name+">")
				err := next(ctx, env)
				trail = append(trail, "<"+name)
				return err
			}
		}
	}
	h := tasks.Chain(func(context.Context, *tasks.Envelope) error { trail = append(trail, "h"); return nil }, mw("a"), mw("b"))
	_ = h(context.Background(), &tasks.Envelope{})
	if got, want := strings.Join(trail, " "), "a> b> h <b <a"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestHeaderIsCaseSensitive(t *testing.T) {
	t.Parallel()
	h := tasks.Header{}
	h.Set("traceparent", "x")
	h.Add("traceparent", "y")
	if h.Get("Traceparent") != "" || h.Get("traceparent") != "x" || len(h.Values("traceparent")) != 2 {
		t.Errorf("header %v", h)
	}
	h.Del("traceparent")
	if len(h) != 0 {
		t.Errorf("after Del: %v", h)
	}
}

// A snooze of 0 or less, or beyond MaxSnooze, is an ErrInvalidOption that
// is no snooze; one in range is.
func TestSnooze(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want bool
	}{
		{-time.Second, false}, {0, false}, {1, true}, {time.Minute, true},
		{tasks.MaxSnooze, true}, {tasks.MaxSnooze + 1, false},
	} {
		err := tasks.Snooze(tc.d)
		d, ok := tasks.SnoozeDelay(err)
		if ok != tc.want || tc.want && d != tc.d || !tc.want && !errors.Is(err, tasks.ErrInvalidOption) {
			t.Errorf("Snooze(%v): got %v (delay %v, snooze %v), want snooze %v", tc.d, err, d, ok, tc.want)
		}
	}
}
