package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/workflow"
)

// handleFlow registers in reg the handlers of the results and workflows
// scenarios, which log each run with line as the package doc says.
func handleFlow(reg *tasks.Registry, name string, line func(format string, args ...any) error) {
	tasks.MustHandleResult(reg, e2etask.Member(), func(ctx context.Context, t *tasks.Task[e2etask.MemberArgs]) (e2etask.MemberResult, error) {
		a := t.Payload
		start := time.Now()
		if err := work(ctx, a.WorkMillis); err != nil {
			return e2etask.MemberResult{}, err
		}
		outcome := "ok"
		if rand.IntN(100) < a.FailPercent {
			outcome = "fail"
		}
		if err := line("member %d %d %s %d %s %d %d %s", a.Chord, a.Index, t.ID, t.Attempt, name, start.UnixNano(), time.Now().UnixNano(), outcome); err != nil {
			return e2etask.MemberResult{}, err
		}
		if outcome == "fail" {
			return e2etask.MemberResult{}, errors.New("e2e: a random failure")
		}
		return e2etask.MemberResult{Chord: a.Chord, Index: a.Index, Value: e2etask.MemberValue(a.Chord, a.Index)}, nil
	})
	tasks.MustHandleResult(reg, e2etask.ChordDone(), func(ctx context.Context, t *tasks.Task[e2etask.ChordArgs]) (int, error) {
		a := t.Payload
		if err := line("cstart %d %s %d %s %d %d", a.Chord, t.ID, t.Attempt, name, time.Now().UnixNano(), t.EnqueuedAt.UnixNano()); err != nil {
			return 0, err
		}
		rs, err := workflow.Results[e2etask.MemberResult](ctx)
		verdict, sum := "ok", 0
		values := make([]string, len(rs))
		for i, r := range rs {
			values[i] = strconv.Itoa(r.Value)
			sum += r.Value
			if r.Chord != a.Chord || r.Index != i || r.Value != e2etask.MemberValue(a.Chord, i) {
				verdict = fmt.Sprintf("bad:result-%d-is-%d/%d/%d", i, r.Chord, r.Index, r.Value)
			}
		}
		switch {
		case err != nil:
			verdict = "bad:" + strings.ReplaceAll(err.Error(), " ", "_")
		case len(rs) != a.Members:
			verdict = fmt.Sprintf("bad:%d-results-want-%d", len(rs), a.Members)
		}
		if len(values) == 0 {
			values = []string{"-"}
		}
		if err := line("cend %d %s %d %s %d %s %s", a.Chord, t.ID, t.Attempt, name, time.Now().UnixNano(), verdict, strings.Join(values, ",")); err != nil {
			return 0, err
		}
		if verdict != "ok" {
			return 0, tasks.Permanent(errors.New("e2e: the callback's results are wrong: " + verdict))
		}
		return sum, nil
	})
	tasks.MustHandleResult(reg, e2etask.Echo(), func(ctx context.Context, t *tasks.Task[e2etask.EchoArgs]) (int, error) {
		if err := work(ctx, t.Payload.WorkMillis); err != nil {
			return 0, err
		}
		return 2 * t.Payload.N, line("echo %s %d", t.ID, time.Now().UnixNano())
	})

}
