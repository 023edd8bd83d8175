package workflow_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/workflow"
)

func TestTheInputReadersSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := workflow.Input[int](ctx); !errors.Is(err, workflow.ErrNoInput) {
		t.Errorf("Input outside a step: %v, want ErrNoInput", err)
	}
	if _, err := workflow.Results[int](ctx); !errors.Is(err, workflow.ErrNoInput) {
		t.Errorf("Results outside a step: %v, want ErrNoInput", err)
	}
	step := flow.WithInputs(ctx, &flow.Inputs{Workflow: "w", Step: "s", Deps: []string{"json", "gob", "none"},
		Results: map[string]flow.Input{
			"json": {Data: []byte(`{"n":7}`), ContentType: "application/json"},
			"gob":  {Data: []byte{1, 2, 3}, ContentType: "application/x-gob"},
			"none": {},
		}})
	type result struct{ N int }
	if v, err := workflow.ParentResult[result](step, "json"); err != nil || v.N != 7 {
		t.Errorf("ParentResult json: %v, %v", v, err)
	}
	if _, err := workflow.ParentResult[result](step, "gob"); err == nil || !strings.Contains(err.Error(), "application/x-gob") {
		t.Errorf("ParentResult of a result that is not JSON: %v, want an error naming its content type", err)
	}
	if v, err := workflow.ParentResult[[]byte](step, "gob"); err != nil || len(v) != 3 {
		t.Errorf("ParentResult as []byte: %v, %v", v, err)
	}
	if _, err := workflow.ParentResult[result](step, "none"); !errors.Is(err, workflow.ErrNoInput) {
		t.Errorf("ParentResult of a parent without a result: %v, want ErrNoInput", err)
	}
	if _, err := workflow.ParentResult[result](step, "other"); !errors.Is(err, workflow.ErrNoInput) || !strings.Contains(err.Error(), "not a parent") {
		t.Errorf("ParentResult of a step that is no parent: %v", err)
	}
	if _, err := workflow.Input[result](step); !errors.Is(err, workflow.ErrNoInput) || !strings.Contains(err.Error(), "3 parents") {
		t.Errorf("Input of a step with three parents: %v", err)
	}
	if _, err := workflow.ParentResult[string](step, "json"); err == nil || !strings.Contains(err.Error(), "does not decode") {
		t.Errorf("ParentResult into the wrong type: %v", err)
	}
}
