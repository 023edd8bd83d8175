package dashboard_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/tasks"
)

// workerEnv makes the test binary a worker process serving ping for
// the server at its URL, until it is killed: the workers page must see a
// real process die.
const workerEnv = "JETQ_DASHBOARD_TEST_WORKER"

var ping = tasks.Define[int]("worker.ping")

func TestMain(m *testing.M) {
	if url := os.Getenv(workerEnv); url != "" {
		if err := runWorker(url); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	code := m.Run()
	if chrome.stop != nil {
		chrome.stop()
	}
	os.Exit(code)
}

func runWorker(url string) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, ping, func(context.Context, *tasks.Task[int]) error { return nil })
	w, err := consumer.New(js, reg, consumer.WithConcurrency(2), consumer.WithPresenceInterval(presenceEvery))
	if err != nil {
		return err
	}
	return w.Run(context.Background())
}

// presenceEvery is the test workers' presence interval: their entries live
// a second.
const presenceEvery = 200 * time.Millisecond
