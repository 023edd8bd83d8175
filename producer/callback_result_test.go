package producer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Receipt is the result of the result task of the callback tests.
type Receipt struct {
	Total int `json:"total"`
}

func TestSuccessCallbackOfAResultTaskTakesTheResult(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t)
	ctx := context.Background()
	charge := tasks.DefineResult[Email, Receipt]("email.charge")
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cb       producer.EnqueueOption
		mentions string
	}{
		"struct{} callback": {producer.OnSuccess(tasks.Define[struct{}]("charge.done")),
			"the callback takes struct {}, but task email.charge returns github.com/jetq/jetq/producer_test.Receipt"},
		"another type": {producer.OnSuccess(tasks.Define[Email]("charge.mail")),
			"the callback takes github.com/jetq/jetq/producer_test.Email, but task email.charge returns github.com/jetq/jetq/producer_test.Receipt"},
		"another codec": {producer.OnSuccess(tasks.Define[Receipt]("charge.text", tasks.WithCodec(textCodec{}))),
			"the callback's codec is text/plain, but task email.charge encodes its result as application/json"},
	} {
		if _, err := producer.Enqueue(ctx, p, charge, Email{To: "a@b.c"}, tc.cb); !errors.Is(err, producer.ErrInvalidOption) || !strings.Contains(err.Error(), tc.mentions) {
			t.Errorf("%s: got %v, want an error wrapping ErrInvalidOption that mentions %q", name, err, tc.mentions)
		}
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 0 {
		t.Fatalf("work stream holds %d tasks after refused enqueues, want none", n)
	}
	if _, err := producer.Enqueue(ctx, p, charge, Email{To: "a@b.c"}, producer.OnSuccess(tasks.Define[Receipt]("charge.done"))); err != nil {
		t.Errorf("a callback that takes the result: %v", err)
	}
}
