package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// A service mounts the dashboard under /jetq next to its own routes; here
// its overview's JSON shows two tasks waiting for a worker.
func Example() {
	ctx := context.Background()
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)

	d, err := dashboard.New(js, dashboard.WithBasePath("/jetq"))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/jetq/", d)
	web := httptest.NewServer(mux) // a real service: http.ListenAndServe("127.0.0.1:8080", mux)
	defer web.Close()

	render := tasks.Define[string]("report.render")
	p, _ := producer.New(js, producer.WithLogger(slog.New(slog.DiscardHandler)))
	defer p.Close()
	for _, name := range []string{"q3", "q4"} {
		if _, err := producer.Enqueue(ctx, p, render, name); err != nil {
			panic(err)
		}
	}

	resp, err := http.Get(web.URL + "/jetq/api/overview")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var o dashboard.Overview
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		panic(err)
	}
	for _, q := range o.Queues {
		fmt.Printf("%s/%s: %d pending, %d workers\n", q.Queue, q.Task, q.Pending, q.Workers)
	}
	// Output:
	// default/report.render: 2 pending, 0 workers
}
