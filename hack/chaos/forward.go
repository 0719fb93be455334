package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// serveWebhooks listens where the apiserver calls the webhooks and forwards
// each TCP connection, TLS and all, to a running replica, as a Service in
// front of the Deployment would: every replica serves the webhooks with the
// same certificate, leader or not, so approvals go on while one is down. The
// audit receiver's address, where the apiserver posts its audit events, gets
// a forwarder of its own the same way: one address can be bound by one
// replica only.
func (rs *replicas) serveWebhooks() error {
	webhooks, err := rs.serveForwarder(rs.e.cluster.WebhookAddress(), func(r *replica) int { return r.webhookPort })
	if err != nil {
		return fmt.Errorf("the webhook address: %w", err)
	}
	audit, err := rs.serveForwarder(rs.e.cluster.Audit.Address, func(r *replica) int { return r.auditPort })
	if err != nil {
		return errors.Join(fmt.Errorf("the audit receiver's address: %w", err), webhooks.Close())
	}
	rs.listeners = []net.Listener{webhooks, audit}
	return nil
}

// serveForwarder listens on addr and forwards each connection to the port
// of a running replica.
func (rs *replicas) serveForwarder(addr string, port func(*replica) int) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go rs.forward(conn, port)
		}
	}()
	return l, nil
}

func (rs *replicas) forward(in net.Conn, port func(*replica) int) {
	defer func() { _ = in.Close() }()
	out, err := rs.dialReplica(port)
	if err != nil {
		return // the apiserver sees the connection closed and fails the call
	}
	defer func() { _ = out.Close() }()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tcp, ok := dst.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
	}
	go pipe(out, in)
	go pipe(in, out)
	wg.Wait()
}

// dialReplica connects to a running replica, starting with the next in round
// robin and trying the others when it refuses.
func (rs *replicas) dialReplica(port func(*replica) int) (net.Conn, error) {
	rs.mu.Lock()
	first := rs.next
	rs.next = (rs.next + 1) % replicaCount
	rs.mu.Unlock()
	var errs []error
	for k := range replicaCount {
		r := rs.slots[(first+k)%replicaCount]
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port(r)))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		cancel()
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
