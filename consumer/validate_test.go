package consumer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// TestValidateServiceChecksPayloads asks a running worker, through its
// micro service, to check payloads of the task it serves: it answers with
// the reason its decoder or Validate method refuses a payload, accepts a
// good one without running it, and stops answering when it stops.
func TestValidateServiceChecksPayloads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("check.me")
	ran := make(chan struct{}, 1)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[Args]) error { ran <- struct{}{}; return nil })
	rw := jetqtest.StartWorker(t, b.srv, reg)

	names, err := wire.NewNames("jetq")
	if err != nil {
		t.Fatal(err)
	}
	subject := names.ValidateSubject(def.Spec().Queue, def.Spec().Name)
	nc := b.js.Conn()
	ask := func(payload string) (*nats.Msg, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return nc.RequestWithContext(ctx, subject, []byte(payload))
	}
	// The service starts with the pulls: wait for its first answer.
	testkit.WaitFor(t, 20*time.Second, func() error { _, err := ask(`{"n":1}`); return err })

	for _, tc := range []struct {
		payload, reason string
	}{
		{`{"n":-3}`, "n must not be negative, got -3"},
		{`{"n":"x"}`, "decode"},
		{`{"n":2}`, ""},
	} {
		m, err := ask(tc.payload)
		if err != nil {
			t.Fatalf("validate %s: %v", tc.payload, err)
		}
		got := m.Header.Get(micro.ErrorHeader)
		switch {
		case tc.reason == "" && got != "":
			t.Errorf("validate %s: refused with %q, want accepted", tc.payload, got)
		case tc.reason != "" && (!strings.Contains(got, tc.reason) || m.Header.Get(micro.ErrorCodeHeader) != wire.ValidateRefused):
			t.Errorf("validate %s: error %q code %q, want code %s mentioning %q", tc.payload, got, m.Header.Get(micro.ErrorCodeHeader), wire.ValidateRefused, tc.reason)
		}
	}
	select {
	case <-ran:
		t.Error("a check ran the handler")
	default:
	}

	// A task the worker does not serve has no answer; a stopped worker
	// answers nothing.
	if _, err := nc.Request(names.ValidateSubject("default", "not.served"), []byte(`{}`), 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("validate a task nobody serves: %v, want no responders", err)
	}
	rw.Cancel()
	if err := rw.Wait(t, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 20*time.Second, func() error {
		if _, err := ask(`{"n":1}`); !errors.Is(err, nats.ErrNoResponders) {
			return errors.New("a stopped worker still answers: " + errString(err))
		}
		return nil
	})
}

func errString(err error) string {
	if err == nil {
		return "answered"
	}
	return err.Error()
}
