package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
)

func TestClusterReplicatesAndSurvivesItsLeader(t *testing.T) {
	t.Parallel()
	began := time.Now()
	c := embeddedtest.Cluster(t, 3)
	t.Logf("3-node cluster ready in %v", time.Since(began).Round(time.Millisecond))
	if n := len(c.Nodes()); n != 3 || len(c.ClientURLs()) != 3 {
		t.Fatalf("nodes %d", n)
	}
	nc, err := c.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "r3.a", []byte("one")); err != nil {
		t.Fatal(err)
	}

	// Read through another node than the one the publish went to.
	other, err := c.Node((indexOf(c, nc.ConnectedUrl()) + 1) % 3).Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ojs, _ := jetstream.New(other)
	s, err := ojs.Stream(ctx, "R3")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.GetMsg(ctx, 1); err != nil || string(m.Data) != "one" {
		t.Fatalf("read via another node: %v %v", m, err)
	}

	leader, err := c.StreamLeader(ctx, "R3")
	if err != nil {
		t.Fatal(err)
	}
	c.Node(leader).Shutdown()
	down := time.Now()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.Publish(pctx, "r3.b", []byte("two"))
		pcancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no publish after the leader went: %v", err)
		}
	}
	t.Logf("publishing again %v after the stream leader's node shut down", time.Since(down).Round(time.Millisecond))
	if l, err := c.StreamLeader(ctx, "R3"); err != nil || l == leader {
		t.Errorf("new leader %d (%v), want another than %d", l, err, leader)
	}

	if err := c.Restart(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	back := c.Node(leader)
	rs, _ := back.Connect()
	defer rs.Close()
	rjs, _ := jetstream.New(rs)
	// The restarted node catches up with what was published while it was away.
	testkit.WaitFor(t, 30*time.Second, func() error {
		s, err := rjs.Stream(ctx, "R3")
		if err != nil {
			return fmt.Errorf("restarted node never caught up: %w", err)
		}
		if n := s.CachedInfo().State.Msgs; n != 2 {
			return fmt.Errorf("restarted node holds %d messages of 2", n)
		}
		return nil
	})
	if err := c.Restart(ctx, leader); err == nil {
		t.Error("Restart of a running node succeeded")
	}
}

func indexOf(c *embedded.Cluster, url string) int {
	for i, u := range c.ClientURLs() {
		if u == url {
			return i
		}
	}
	return 0
}

func TestClusterOptionsAreChecked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, tc := range map[string]struct {
		n    int
		opts []embedded.Option
	}{
		"no nodes":     {0, nil},
		"listen given": {3, []embedded.Option{embedded.WithListen("127.0.0.1:0")}},
	} {
		if _, err := embedded.StartCluster(ctx, tc.n, tc.opts...); !errors.Is(err, embedded.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
	for name, opt := range map[string]embedded.Option{
		"bad route":       embedded.WithCluster("c", "127.0.0.1:0", "http://127.0.0.1:6222"),
		"no routes":       embedded.WithCluster("c", "127.0.0.1:0"),
		"no name":         embedded.WithCluster("", "127.0.0.1:0", "nats://127.0.0.1:6222"),
		"bad listen":      embedded.WithCluster("c", "nowhere", "nats://127.0.0.1:6222"),
		"route not a url": embedded.WithCluster("c", "127.0.0.1:0", "127.0.0.1:6222"),
	} {
		if _, err := embedded.Start(ctx, opt); !errors.Is(err, embedded.ErrInvalidOption) {
			t.Errorf("Start with %s: %v, want ErrInvalidOption", name, err)
		}
	}
}
