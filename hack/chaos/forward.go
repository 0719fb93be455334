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
// same certificate, leader or not, so approvals go on while one is down.
func (rs *replicas) serveWebhooks() error {
	l, err := net.Listen("tcp", rs.e.cluster.WebhookAddress())
	if err != nil {
		return fmt.Errorf("listen on the webhook address: %w", err)
	}
	rs.listener = l
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go rs.forward(conn)
		}
	}()
	return nil
}

func (rs *replicas) forward(in net.Conn) {
	defer func() { _ = in.Close() }()
	out, err := rs.dialReplica()
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
func (rs *replicas) dialReplica() (net.Conn, error) {
	rs.mu.Lock()
	first := rs.next
	rs.next = (rs.next + 1) % replicaCount
	rs.mu.Unlock()
	var errs []error
	for k := range replicaCount {
		r := rs.slots[(first+k)%replicaCount]
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(r.webhookPort))
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
