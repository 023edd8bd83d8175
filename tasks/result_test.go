package tasks_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tasks/taskstest"
)

type receipt struct {
	Total int `json:"total"`
}

// unencodable has no JSON form.
type unencodable struct{ C chan int }

func TestResultDefinitionSpec(t *testing.T) {
	t.Parallel()
	d := tasks.DefineResult[order, receipt]("shop.checkout")
	spec := d.Spec()
	if spec.Retention != tasks.DefaultRetention || spec.ResultType != "github.com/jetq/jetq/tasks_test.receipt" {
		t.Errorf("spec: retention %v, result type %q; want %v and the result's Go type", spec.Retention, spec.ResultType, tasks.DefaultRetention)
	}
	if got := tasks.Define[order]("shop.plain").Spec(); got.Retention != 0 || got.ResultType != "" {
		t.Errorf("plain spec: retention %v, result type %q; want none", got.Retention, got.ResultType)
	}
	if got := tasks.Define[order]("shop.kept", tasks.WithRetention(time.Hour)).Spec().Retention; got != time.Hour {
		t.Errorf("plain spec with retention: got %v, want 1h", got)
	}
}

func TestRetentionOutOfRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		result bool
		d      time.Duration
		want   string
	}{
		{"negative", false, -time.Second, "retention must be between 0"},
		{"over max", true, tasks.MaxRetention + time.Second, "retention must be between 0"},
		{"under a second", false, time.Millisecond, "at least 1s"},
		{"result kept for nothing", true, 0, "give it a positive one"},
	} {
		var err error
		if tc.result {
			_, err = tasks.NewResult[order, receipt]("shop.bad", tasks.WithRetention(tc.d))
		} else {
			_, err = tasks.New[order]("shop.bad", tasks.WithRetention(tc.d))
		}
		if !errors.Is(err, tasks.ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrInvalidOption saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := tasks.NewResult[order, receipt]("shop.max", tasks.WithRetention(tasks.MaxRetention)); err != nil {
		t.Errorf("retention of MaxRetention: %v", err)
	}
}

func TestResultCodec(t *testing.T) {
	t.Parallel()
	d := tasks.DefineResult[order, receipt]("shop.codec")
	b, err := d.EncodeResult(receipt{Total: 12})
	if err != nil || string(b) != `{"total":12}` {
		t.Fatalf("EncodeResult: got %s, %v", b, err)
	}
	if r, err := d.DecodeResult(b); err != nil || r.Total != 12 {
		t.Errorf("DecodeResult: got %+v, %v", r, err)
	}
	if _, err := d.DecodeResult([]byte("{")); !errors.Is(err, tasks.ErrInvalidResult) {
		t.Errorf("DecodeResult of garbage: got %v, want ErrInvalidResult", err)
	}
	bad := tasks.DefineResult[order, unencodable]("shop.unencodable")
	if _, err := bad.EncodeResult(unencodable{}); !errors.Is(err, tasks.ErrInvalidResult) {
		t.Errorf("EncodeResult of a chan: got %v, want ErrInvalidResult", err)
	}
}

func TestHandleResultSettlements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := tasks.DefineResult[order, receipt]("shop.settle", tasks.WithMaxAttempts(3))
	r, o := taskstest.RunResult(ctx, d, func(ctx context.Context, tk *tasks.Task[order]) (receipt, error) {
		return receipt{Total: tk.Payload.ID * 10}, nil
	}, order{ID: 4, Email: "a@b.c"})
	if o.Action != tasks.ActionAck || r.Total != 40 {
		t.Errorf("success: got %v with %+v, want ack with total 40", o.Action, r)
	}
	_, o = taskstest.RunResult(ctx, d, func(ctx context.Context, tk *tasks.Task[order]) (receipt, error) {
		return receipt{}, errors.New("flaky")
	}, order{ID: 4, Email: "a@b.c"})
	if o.Action != tasks.ActionRetry {
		t.Errorf("failure: got %v, want retry", o.Action)
	}
	bad := tasks.DefineResult[order, unencodable]("shop.bad-result", tasks.WithMaxAttempts(3))
	_, o = taskstest.RunResult(ctx, bad, func(ctx context.Context, tk *tasks.Task[order]) (unencodable, error) {
		return unencodable{}, nil
	}, order{ID: 4, Email: "a@b.c"})
	if o.Action != tasks.ActionDeadLetter || o.Reason != tasks.ReasonInvalidResult || !tasks.IsPermanent(o.Err) || !errors.Is(o.Err, tasks.ErrInvalidResult) {
		t.Errorf("invalid result: got %v %q (%v), want dead_letter invalid_result, permanent", o.Action, o.Reason, o.Err)
	}
	reg := tasks.NewRegistry()
	if err := tasks.HandleResult[order, receipt](reg, nil, nil); !errors.Is(err, tasks.ErrInvalidOption) {
		t.Errorf("HandleResult of nil: got %v, want ErrInvalidOption", err)
	}
}
