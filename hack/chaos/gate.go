package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// gate is a TCP front for a server: it forwards every connection to upstream
// while open; closed, it has no listener (connections are refused) and has
// cut every connection it carried, as a server that went away would. It
// opens again on the same address.
type gate struct {
	addr, upstream string
	mu             sync.Mutex
	listener       net.Listener
	conns          map[net.Conn]bool
}

func newGate(upstream string) (*gate, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gate for %s: %w", upstream, err)
	}
	g := &gate{addr: l.Addr().String(), upstream: upstream, conns: map[net.Conn]bool{}}
	g.serve(l)
	return g, nil
}

func (g *gate) serve(l net.Listener) {
	g.mu.Lock()
	g.listener = l
	g.mu.Unlock()
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			go g.forward(in)
		}
	}()
}

// closeGate stops listening and cuts the open connections.
func (g *gate) closeGate() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.listener == nil {
		return nil
	}
	errs := []error{g.listener.Close()}
	g.listener = nil
	for c := range g.conns {
		errs = append(errs, c.Close())
	}
	clear(g.conns)
	return errors.Join(errs...)
}

// openGate listens on the same address again.
func (g *gate) openGate() error {
	l, err := net.Listen("tcp", g.addr)
	if err != nil {
		return fmt.Errorf("reopen the gate on %s: %w", g.addr, err)
	}
	g.serve(l)
	return nil
}

func (g *gate) track(c net.Conn, open bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !open {
		delete(g.conns, c)
		return true
	}
	if g.listener == nil {
		return false
	}
	g.conns[c] = true
	return true
}

func (g *gate) forward(in net.Conn) {
	defer func() { _ = in.Close() }()
	out, err := net.Dial("tcp", g.upstream)
	if err != nil {
		return
	}
	defer func() { _ = out.Close() }()
	if !g.track(in, true) || !g.track(out, true) {
		return
	}
	defer g.track(in, false)
	defer g.track(out, false)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done // either side ending ends both
}
