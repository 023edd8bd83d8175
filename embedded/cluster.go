package embedded

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// defaultClusterTimeout bounds StartCluster and WaitReady when ctx has no
// deadline: a meta leader is usually elected within a second, at worst after
// several election timeouts of 4–9 s.
const defaultClusterTimeout = 60 * time.Second

// Cluster is a JetStream cluster of embedded servers in this process, for
// tests and experiments with replicated streams and node failures. Every node
// listens for clients on a loopback TCP port, so clients fail over between
// nodes. Its methods are safe for concurrent use.
type Cluster struct {
	name    string
	opts    []Option
	base    string // parent of the node store dirs
	ownsDir bool
	routes  []string
	ports   []int // client ports, kept across restarts

	mu    sync.Mutex
	nodes []*Server
}

// StartCluster starts n servers in this process that form one JetStream
// cluster, and returns once the cluster has elected a meta leader and can
// create a stream with n replicas. Each node is named "<name>-<i>" (name
// from [WithServerName], default "jetq-embedded"), listens for clients on a
// random loopback port and for routes on another, and keeps its data in its
// own directory "node-<i>" under [WithStoreDir] (kept) or under a temporary
// directory that [Cluster.Shutdown] removes. Other options apply to every
// node; [WithListen] and [WithCluster] are chosen by StartCluster and may not
// be given.
//
// StartCluster waits until ctx is done or, if ctx has no deadline, for at
// most 60 s. Errors: one wrapping [ErrInvalidOption] for n < 1 or bad
// options; otherwise why the cluster did not form. On error nothing is left
// running.
func StartCluster(ctx context.Context, n int, opts ...Option) (*Cluster, error) {
	cfg := newConfig(opts)
	switch {
	case n < 1:
		return nil, fmt.Errorf("%w: StartCluster: %d nodes; at least 1", ErrInvalidOption, n)
	case cfg.listenSet || cfg.cluster != "":
		return nil, fmt.Errorf("%w: StartCluster chooses the listen and route addresses; do not pass WithListen or WithCluster", ErrInvalidOption)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := clusterContext(ctx)
	defer cancel()
	name := strings.TrimSuffix(defaultNamePrefix, "-")
	if cfg.nameSet {
		name = cfg.serverName
	}
	c := &Cluster{name: name, opts: opts, base: cfg.storeDir, ports: make([]int, n), nodes: make([]*Server, n)}
	if !cfg.dirSet {
		dir, err := os.MkdirTemp("", defaultNamePrefix+"cluster-*")
		if err != nil {
			return nil, fmt.Errorf("embedded: create temporary store dir: %w", err)
		}
		c.base, c.ownsDir = dir, true
	}
	// Route ports must be known before any node starts, since every node
	// lists every route. Reserving them by binding and closing is racy;
	// starting again on fresh ports covers the rare port stolen meanwhile.
	var err error
	for range 3 {
		if err = c.start(ctx, n); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		c.stopNodes()
	}
	if err == nil {
		err = c.WaitReady(ctx)
	}
	if err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

func clusterContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, defaultClusterTimeout)
}

func (c *Cluster) start(ctx context.Context, n int) error {
	routePorts, err := freePorts(n)
	if err != nil {
		return err
	}
	c.routes = make([]string, n)
	for i, p := range routePorts {
		c.routes[i] = "nats-route://127.0.0.1:" + strconv.Itoa(p)
	}
	for i := range n {
		c.ports[i] = 0
		if err := c.startNode(ctx, i, routePorts[i]); err != nil {
			return err
		}
	}
	return nil
}

// startNode starts node i: on its known client port after a restart, on a
// free one the first time.
func (c *Cluster) startNode(ctx context.Context, i, routePort int) error {
	opts := append(append([]Option{}, c.opts...),
		WithServerName(c.name+"-"+strconv.Itoa(i)),
		WithStoreDir(filepath.Join(c.base, "node-"+strconv.Itoa(i))),
		WithListen("127.0.0.1:"+strconv.Itoa(c.ports[i])),
		WithCluster(c.name, "127.0.0.1:"+strconv.Itoa(routePort), c.routes...),
	)
	s, err := Start(ctx, opts...)
	if err != nil {
		return fmt.Errorf("embedded: cluster node %d: %w", i, err)
	}
	u := s.ClientURL()
	port, _ := strconv.Atoi(u[strings.LastIndexByte(u, ':')+1:])
	c.mu.Lock()
	c.nodes[i], c.ports[i] = s, port
	c.mu.Unlock()
	return nil
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("embedded: reserve a route port: %w", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// WaitReady waits until the running nodes have a JetStream meta leader and
// a stream with as many replicas as nodes can be created, bounded by ctx (or
// 60 s without a deadline). Call it after [Cluster.Restart] to wait for a
// settled cluster.
func (c *Cluster) WaitReady(ctx context.Context) error {
	ctx, cancel := clusterContext(ctx)
	defer cancel()
	nc, err := c.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	probe := jetstream.StreamConfig{
		Name: "EMBEDDED_PROBE_" + randomSuffix(), Subjects: []string{"embedded.probe." + randomSuffix()},
		Replicas: len(c.Nodes()), Storage: jetstream.MemoryStorage,
	}
	for {
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = js.CreateStream(rctx, probe)
		if err == nil {
			err = js.DeleteStream(rctx, probe.Name)
		}
		rcancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded: cluster not ready: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Nodes returns the nodes, in order; a node that was shut down stays in its
// place until it is restarted.
func (c *Cluster) Nodes() []*Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Server(nil), c.nodes...)
}

// Node returns node i.
func (c *Cluster) Node(i int) *Server { return c.Nodes()[i] }

// ClientURLs returns every node's client URL, in node order.
func (c *Cluster) ClientURLs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	urls := make([]string, len(c.ports))
	for i, p := range c.ports {
		urls[i] = "nats://127.0.0.1:" + strconv.Itoa(p)
	}
	return urls
}

// Connect opens a client connection that knows every node, so it moves to
// another when its node goes, and reconnects forever. opts are applied after
// these defaults. The caller closes the connection.
func (c *Cluster) Connect(opts ...nats.Option) (*nats.Conn, error) {
	base := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}
	nc, err := nats.Connect(strings.Join(c.ClientURLs(), ","), append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("embedded: connect to cluster: %w", err)
	}
	return nc, nil
}

// Restart starts node i again after it was shut down ([Server.Shutdown] on
// [Cluster.Node]), with the same name, ports and store dir, so the other
// nodes and clients find it again. It returns once the node accepts
// connections; see [Cluster.WaitReady] to wait for the cluster to settle.
func (c *Cluster) Restart(ctx context.Context, i int) error {
	old := c.Node(i)
	if !old.closed.Load() {
		return fmt.Errorf("embedded: restart node %d: it is still running", i)
	}
	u := c.routes[i]
	port, _ := strconv.Atoi(u[strings.LastIndexByte(u, ':')+1:])
	return c.startNode(ctx, i, port)
}

// StreamLeader returns the index of the node that leads stream.
func (c *Cluster) StreamLeader(ctx context.Context, stream string) (int, error) {
	nc, err := c.Connect()
	if err != nil {
		return -1, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return -1, err
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return -1, fmt.Errorf("embedded: stream %s: %w", stream, err)
	}
	info := s.CachedInfo()
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return -1, fmt.Errorf("embedded: stream %s has no leader", stream)
	}
	for i, n := range c.Nodes() {
		if n.ns.Name() == info.Cluster.Leader {
			return i, nil
		}
	}
	return -1, fmt.Errorf("embedded: stream %s is led by %q, not a node of this cluster", stream, info.Cluster.Leader)
}

// Shutdown stops every node and removes the temporary store directory if
// StartCluster made it. It is idempotent.
func (c *Cluster) Shutdown() {
	c.stopNodes()
	if c.ownsDir {
		_ = os.RemoveAll(c.base) // best effort: a temporary directory
	}
}

func (c *Cluster) stopNodes() {
	var wg sync.WaitGroup
	for _, s := range c.Nodes() {
		if s != nil {
			wg.Add(1)
			go func() { defer wg.Done(); s.Shutdown() }()
		}
	}
	wg.Wait()
}
