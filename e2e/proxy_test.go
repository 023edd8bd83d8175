package e2e

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// cutMode is how [routeProxy] cuts a node off from its peers.
type cutMode int

const (
	// silent holds the node's route connections open and passes nothing
	// either way, as a network that drops packets does: the peers' writes
	// back up, and at the heal the held bytes flow on in order. New
	// connections are accepted and left without an answer.
	silent cutMode = iota
	// reset closes the node's route connections with a TCP reset and resets
	// every new one until the heal.
	reset
)

func (m cutMode) String() string {
	if m == reset {
		return "reset"
	}
	return "silent"
}

// routeProxy carries the cluster routes of n nodes over loopback, one
// listener for each ordered pair (from, to), so that it knows which two
// nodes every connection joins and can cut one node off from all the
// others while its clients still reach it.
type routeProxy struct {
	addrs [][]string // addrs[from][to]: where from's route to to connects

	mu      sync.Mutex
	targets []string      // the nodes' cluster addresses
	cutOff  int           // the node cut off, or -1
	mode    cutMode       // how
	healed  chan struct{} // closed at the heal of the current cut
	conns   map[*proxied]struct{}
	closed  bool
}

// proxied is one route connection through the proxy.
type proxied struct {
	from, to int
	down     net.Conn // from's side

	mu     sync.Mutex
	up     net.Conn // to's side, once dialled
	closed bool
}

// newRouteProxy listens on loopback for routes between n nodes; it stops
// at t's cleanup. Its listeners hold their ports before the nodes' ports are
// chosen, so none can be chosen twice. Tell it the nodes' cluster addresses
// with [routeProxy.route] before they start.
func newRouteProxy(t *testing.T, n int) *routeProxy {
	t.Helper()
	rp := &routeProxy{cutOff: -1, conns: map[*proxied]struct{}{}, healed: make(chan struct{})}
	close(rp.healed)
	var ls []net.Listener
	rp.addrs = make([][]string, n)
	for from := range n {
		rp.addrs[from] = make([]string, n)
		for to := range n {
			if from == to {
				continue
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, l)
			rp.addrs[from][to] = l.Addr().String()
			go rp.serve(l, from, to)
		}
	}
	t.Cleanup(func() {
		rp.mu.Lock()
		rp.closed = true
		conns := rp.conns
		rp.conns = nil
		rp.mu.Unlock()
		for _, l := range ls {
			l.Close()
		}
		for c := range conns {
			c.close(false)
		}
	})
	return rp
}

// route tells rp the nodes' cluster addresses, targets[node].
func (rp *routeProxy) route(targets []string) {
	rp.mu.Lock()
	rp.targets = targets
	rp.mu.Unlock()
}

// cut cuts node off from the others until [routeProxy.heal].
func (rp *routeProxy) cut(node int, mode cutMode) {
	rp.mu.Lock()
	rp.cutOff, rp.mode, rp.healed = node, mode, make(chan struct{})
	var doomed []*proxied
	if mode == reset {
		for c := range rp.conns {
			if c.from == node || c.to == node {
				doomed = append(doomed, c)
			}
		}
	}
	rp.mu.Unlock()
	for _, c := range doomed {
		c.close(true)
	}
}

// heal ends the cut: held connections pass their bytes on.
func (rp *routeProxy) heal() {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.cutOff >= 0 {
		rp.cutOff = -1
		close(rp.healed)
	}
}

// gate says whether c may pass bytes now: it waits while c's pair is held
// silent, and reports false when c must close (reset, or the proxy stops).
func (rp *routeProxy) gate(c *proxied) bool {
	for {
		rp.mu.Lock()
		if rp.closed {
			rp.mu.Unlock()
			return false
		}
		if rp.cutOff < 0 || (c.from != rp.cutOff && c.to != rp.cutOff) {
			rp.mu.Unlock()
			return true
		}
		if rp.mode == reset {
			rp.mu.Unlock()
			return false
		}
		healed := rp.healed
		rp.mu.Unlock()
		<-healed // the cleanup heals too
	}
}

func (rp *routeProxy) serve(l net.Listener, from, to int) {
	for {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		c := &proxied{from: from, to: to, down: nc}
		rp.mu.Lock()
		if rp.closed {
			rp.mu.Unlock()
			nc.Close()
			return
		}
		rp.conns[c] = struct{}{}
		target := rp.targets[to]
		rp.mu.Unlock()
		go rp.carry(c, target)
	}
}

// carry dials c's target once c may pass, then copies both ways through
// the gate.
func (rp *routeProxy) carry(c *proxied, target string) {
	defer rp.forget(c)
	if !rp.gate(c) {
		c.close(true)
		return
	}
	up, err := net.Dial("tcp", target)
	if err != nil {
		c.close(true)
		return
	}
	c.mu.Lock()
	c.up = up
	closed := c.closed
	c.mu.Unlock()
	if closed {
		up.Close()
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if !rp.gate(c) {
					c.close(true)
					return
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					c.close(false)
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					c.close(false)
				} else if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				return
			}
		}
	}
	go pipe(up, c.down)
	go pipe(c.down, up)
	<-done
	<-done
	c.close(false)
}

func (rp *routeProxy) forget(c *proxied) {
	rp.mu.Lock()
	delete(rp.conns, c)
	rp.mu.Unlock()
}

// close closes both sides of c, with a TCP reset when rst is set.
func (c *proxied) close(rst bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	for _, nc := range []net.Conn{c.down, c.up} {
		if nc == nil {
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok && rst {
			_ = tc.SetLinger(0) // close sends RST
		}
		nc.Close()
	}
}
