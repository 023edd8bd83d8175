package producer_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/jetq/jetq/producer"
)

func TestResultJSON(t *testing.T) {
	t.Parallel()
	r := producer.Result{ID: "welcome-1", Stream: "JETQ_TASKS", Sequence: 7, Duplicate: true, Err: errors.New("boom")}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"welcome-1","stream":"JETQ_TASKS","seq":7,"duplicate":true}`; string(b) != want {
		t.Errorf("json.Marshal(Result) = %s, want %s", b, want)
	}
}
