package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Total is the result of the Result example's task.
type Total struct {
	Cents int `json:"cents"`
}

// Result waits for a task's result, or its failure, from any process.
func ExampleResult() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	js, stop := connect(ctx)
	defer stop()
	sum := tasks.DefineResult[[]Invoice, Total]("invoice.sum")
	reg := tasks.NewRegistry()
	tasks.MustHandleResult(reg, sum, func(ctx context.Context, t *tasks.Task[[]Invoice]) (Total, error) {
		if len(t.Payload) == 0 {
			return Total{}, tasks.Permanent(errors.New("nothing to sum"))
		}
		var tot Total
		for _, inv := range t.Payload {
			tot.Cents += inv.Cents
		}
		return tot, nil
	})
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet))
	go func() { _ = w.Run(ctx) }()
	defer func() { _ = w.Shutdown(ctx) }()
	p, _ := producer.New(js, producer.WithLogger(quiet))
	in, _ := inspect.New(js, inspect.WithLogger(quiet))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	ok, _ := producer.Enqueue(ctx, p, sum, []Invoice{{"ada", 300}, {"ada", 120}}, producer.WithID("sum-1"))
	tot, err := inspect.Result(wctx, in, sum, ok.ID)
	fmt.Println(tot.Cents, err)

	bad, _ := producer.Enqueue(ctx, p, sum, []Invoice{}, producer.WithID("sum-2"))
	_, err = inspect.Result(wctx, in, sum, bad.ID)
	var fe *tasks.FailureError
	if errors.As(err, &fe) {
		fmt.Println(fe.Failure.State, fe.Failure.Reason, fe.Failure.Attempts)
	}
	fmt.Println(err)
	// Output:
	// 420 <nil>
	// dead_lettered permanent 1
	// task invoice.sum "sum-2" dead_lettered (permanent): permanent: nothing to sum
}
