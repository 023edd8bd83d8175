package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
	"github.com/jetq/jetq/workflow"
)

// The typed payloads and results of the chain's five steps.
type (
	orderIn struct {
		Customer string `json:"customer"`
		Qty      int    `json:"qty"`
	}
	order struct {
		Customer string `json:"customer"`
		Qty      int    `json:"qty"`
		ID       string `json:"id"`
	}
	priced struct {
		Order order `json:"order"`
		Cents int   `json:"cents"`
	}
	taxed struct {
		Priced priced `json:"priced"`
		Tax    int    `json:"tax"`
	}
	invoice struct {
		Number   string `json:"number"`
		Customer string `json:"customer"`
		Total    int    `json:"total"`
	}
	receipt struct {
		Text string `json:"text"`
	}
)

// TestChainPassesTypedResultsAndResumesFromTheDLQ runs a chain of five
// steps of five result types on a nats-server process, each step reading
// the previous one's result with workflow.Input next to its own payload.
// The third step fails for good on its first run: the chain stops there,
// inspect.Workflow reads it failed, with the first two steps done, the
// third dead-lettered with its reason and error, the last two unreachable
// and never run, inspect.Result of the third returns its failure, and the
// workflow's failure callback runs once with the step that failed and the
// results of the two that succeeded.
// Replayed from the dead-letter stream, the third step succeeds and the
// chain runs to its end: the last step's result is what the five typed
// steps compute, and the steps before the replayed one do not run again.
func TestChainPassesTypedResultsAndResumesFromTheDLQ(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	js, _ := natsSingle(t, dir, natsServerBinary(t))
	opts := []tasks.Option{tasks.WithMaxAttempts(3), tasks.WithBackoff(tasks.Backoff{Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond})}
	take, err := tasks.NewResult[orderIn, order]("chain.take", opts...)
	if err != nil {
		t.Fatal(err)
	}
	price, err := tasks.NewResult[int, priced]("chain.price", opts...)
	if err != nil {
		t.Fatal(err)
	}
	tax, err := tasks.NewResult[int, taxed]("chain.tax", opts...)
	if err != nil {
		t.Fatal(err)
	}
	bill, err := tasks.NewResult[string, invoice]("chain.invoice", opts...)
	if err != nil {
		t.Fatal(err)
	}
	mail, err := tasks.NewResult[string, receipt]("chain.mail", opts...)
	if err != nil {
		t.Fatal(err)
	}

	var refuse atomic.Bool
	refuse.Store(true)
	var mu sync.Mutex
	runs := map[string]int{}
	var inputErrs []error
	ran := func(step string, err error) {
		mu.Lock()
		defer mu.Unlock()
		runs[step]++
		if err != nil {
			inputErrs = append(inputErrs, fmt.Errorf("%s: %w", step, err))
		}
	}
	reg := tasks.NewRegistry()
	tasks.MustHandleResult(reg, take, func(ctx context.Context, tk *tasks.Task[orderIn]) (order, error) {
		ran("take", nil)
		return order{Customer: tk.Payload.Customer, Qty: tk.Payload.Qty, ID: "o-" + tk.Payload.Customer}, nil
	})
	tasks.MustHandleResult(reg, price, func(ctx context.Context, tk *tasks.Task[int]) (priced, error) {
		o, err := workflow.Input[order](ctx)
		ran("price", err)
		return priced{Order: o, Cents: o.Qty * tk.Payload}, err
	})
	tasks.MustHandleResult(reg, tax, func(ctx context.Context, tk *tasks.Task[int]) (taxed, error) {
		pr, err := workflow.Input[priced](ctx)
		ran("tax", err)
		if refuse.Load() {
			return taxed{}, tasks.Permanent(errors.New("the tax service refused the order"))
		}
		return taxed{Priced: pr, Tax: pr.Cents * tk.Payload / 100}, err
	})
	tasks.MustHandleResult(reg, bill, func(ctx context.Context, tk *tasks.Task[string]) (invoice, error) {
		tx, err := workflow.Input[taxed](ctx)
		ran("invoice", err)
		return invoice{Number: tk.Payload + "-" + tx.Priced.Order.ID, Customer: tx.Priced.Order.Customer,
			Total: tx.Priced.Cents + tx.Tax}, err
	})
	tasks.MustHandleResult(reg, mail, func(ctx context.Context, tk *tasks.Task[string]) (receipt, error) {
		inv, err := workflow.Input[invoice](ctx)
		ran("mail", err)
		return receipt{Text: fmt.Sprintf("%s %s: invoice %s, %d cents", tk.Payload, inv.Customer, inv.Number, inv.Total)}, err
	})
	onFailure, err := tasks.New[workflow.Failure]("chain.failed")
	if err != nil {
		t.Fatal(err)
	}
	failures := make(chan workflow.Failure, 4)
	tasks.MustHandle(reg, onFailure, func(ctx context.Context, tk *tasks.Task[workflow.Failure]) error {
		failures <- tk.Payload
		return nil
	})
	jetqtest.StartWorkerOn(t, js, reg)
	runForwarder(t, js, dlq.WithLogger(testkit.Logger(t)))
	p, in := flowClients(t, js, topology.Topology{})

	chain := workflow.Chain("order-ada",
		workflow.Task("take", take, orderIn{Customer: "ada", Qty: 3}),
		workflow.Task("price", price, 250),
		workflow.Task("tax", tax, 20),
		workflow.Task("invoice", bill, "INV"),
		workflow.Task("mail", mail, "Dear")).With(workflow.OnFailure(onFailure))
	var run workflow.Run
	testkit.WaitFor(t, 30*time.Second, func() error { // until the worker says what it serves
		run, err = workflow.Start(ctx, p, chain)
		if err != nil && !errors.Is(err, workflow.ErrInvalid) {
			t.Fatalf("start: %v", err)
		}
		return err
	})

	// The chain stops at the dead-lettered step.
	wf := waitWorkflow(t, in, run.ID, "failed")
	want := map[string]string{"take": "done", "price": "done", "tax": "dead_lettered", "invoice": "unreachable", "mail": "unreachable"}
	steps := checkSteps(t, wf, want)
	if s := steps["tax"]; s.Reason != string(tasks.ReasonPermanent) || !strings.Contains(s.Error, "tax service refused") {
		t.Errorf("the dead-lettered step reads reason %q, error %q", s.Reason, s.Error)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = inspect.Result(rctx, in, tax, steps["tax"].TaskID)
	cancel()
	var fe *tasks.FailureError
	if !errors.As(err, &fe) || fe.Failure.State != "dead_lettered" || fe.Failure.Reason != tasks.ReasonPermanent {
		t.Errorf("Result of the dead-lettered step: %v, want a *tasks.FailureError, dead_lettered (permanent)", err)
	}
	// The failure callback runs with what failed and what succeeded.
	select {
	case f := <-failures:
		if f.ID != run.ID || len(f.Failed) != 1 || f.Failed[0].ID != steps["tax"].TaskID || f.Failed[0].State != "dead_lettered" {
			t.Errorf("the failure callback's failed steps: %+v", f)
		}
		var o order
		if len(f.Succeeded) != 2 || json.Unmarshal(f.Succeeded["take"], &o) != nil || o.ID != "o-ada" || f.Succeeded["price"] == nil {
			t.Errorf("the failure callback's succeeded steps: %q", f.Succeeded)
		}
	case <-time.After(30 * time.Second):
		t.Error("the failure callback did not run within 30 s")
	}
	mu.Lock()
	if runs["invoice"]+runs["mail"] != 0 {
		t.Errorf("the steps after the dead-lettered one ran: %v", runs)
	}
	mu.Unlock()

	// Replayed, the step succeeds and the chain finishes.
	refuse.Store(false)
	n, err := in.ReplayDeadLetters(ctx, inspect.DeadLetterFilter{ID: steps["tax"].TaskID})
	if err != nil || n != 1 {
		t.Fatalf("replay the dead-lettered step: %d replayed, %v", n, err)
	}
	wf = waitWorkflow(t, in, run.ID, "succeeded")
	steps = checkSteps(t, wf, map[string]string{"take": "done", "price": "done", "tax": "done", "invoice": "done", "mail": "done"})
	rctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	got, err := inspect.Result(rctx, in, mail, steps["mail"].TaskID)
	cancel()
	if wantReceipt := (receipt{Text: "Dear ada: invoice INV-o-ada, 900 cents"}); err != nil || got != wantReceipt {
		t.Errorf("the chain's last result: %+v, %v; want %+v", got, err, wantReceipt)
	}
	mu.Lock()
	defer mu.Unlock()
	if wantRuns := map[string]int{"take": 1, "price": 1, "tax": 2, "invoice": 1, "mail": 1}; fmt.Sprint(runs) != fmt.Sprint(wantRuns) {
		t.Errorf("handler runs %v, want %v", runs, wantRuns)
	}
	if len(inputErrs) > 0 {
		t.Errorf("the steps could not read their inputs: %v", inputErrs)
	}
	if len(failures) > 0 {
		t.Errorf("the failure callback ran again: %+v", <-failures)
	}
}

// waitWorkflow waits until workflow id reads state, and returns it.
func waitWorkflow(t *testing.T, in *inspect.Inspector, id, state string) inspect.WorkflowInfo {
	t.Helper()
	var wf inspect.WorkflowInfo
	testkit.WaitFor(t, 30*time.Second, func() (err error) {
		wf, err = workflowReads(in, id, state)
		return err
	})
	return wf
}

// workflowReads reads workflow id, and says so unless it reads state.
func workflowReads(in *inspect.Inspector, id, state string) (inspect.WorkflowInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wf, err := in.Workflow(ctx, id)
	if err != nil {
		return wf, err
	}
	if wf.State != state {
		var states []string
		for _, s := range wf.Steps {
			states = append(states, s.Name+"="+s.State)
		}
		return wf, fmt.Errorf("workflow %s reads %s, want %s: %s", id, wf.State, state, strings.Join(states, " "))
	}
	return wf, nil
}

// checkSteps checks the state of each step of wf against want and returns
// the steps by name.
func checkSteps(t *testing.T, wf inspect.WorkflowInfo, want map[string]string) map[string]inspect.WorkflowStep {
	t.Helper()
	steps := map[string]inspect.WorkflowStep{}
	for _, s := range wf.Steps {
		steps[s.Name] = s
	}
	for name, state := range want {
		s, ok := steps[name]
		switch {
		case !ok:
			t.Errorf("workflow %s has no step %s: %+v", wf.ID, name, wf.Steps)
		case s.State != state:
			t.Errorf("workflow %s, step %s reads %s, want %s (%+v)", wf.ID, name, s.State, state, s)
		case s.TaskID == "":
			t.Errorf("workflow %s, step %s has no task ID", wf.ID, name)
		}
	}
	if len(steps) != len(want) {
		t.Errorf("workflow %s has %d steps, want %d: %+v", wf.ID, len(steps), len(want), wf.Steps)
	}
	return steps
}
