package kubeaudit

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// eventListBody is a batch of n completed audit events by distinct users, as
// the apiserver's batch backend posts them.
func eventListBody(n, batch int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[`)
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		ts := at.Add(time.Duration(i) * time.Microsecond).Format("2006-01-02T15:04:05.000000Z")
		fmt.Fprintf(&b, `{"level":"RequestResponse","auditID":"b%d-%d","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/bench/configmaps","verb":"create",`+
			`"user":{"username":"bench-user-%05d"},"objectRef":{"resource":"configmaps","namespace":"bench","name":"cm-%d","apiVersion":"v1"},`+
			`"responseStatus":{"code":201},"requestReceivedTimestamp":"%s","stageTimestamp":"%s",`+
			`"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by RoleBinding \"elevator-x/bench\" of ClusterRole \"admin\" to User \"bench-user-%05d\""}}`,
			batch, i, i%1000, i, ts, ts, i%1000)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// BenchmarkReceiverIngest posts batches of 500 events over HTTPS, with the
// token, from 4 clients at once, as the apiserver's batch backend does, to a
// receiver whose store is bounded; it reports events ingested per second
// (the target: at least 5,000 on the 2-core machine). `make bench`
// runs it.
func BenchmarkReceiverIngest(b *testing.B) {
	const perBatch, clients = 500, 4
	store, _ := newTestStore(50_000)
	dir := b.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte(testToken), 0o600); err != nil {
		b.Fatal(err)
	}
	r, err := NewReceiver(store, ReceiverOptions{TokenFile: token})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(r)
	srv.TLS = r.TLSConfig()
	srv.StartTLS()
	defer srv.Close()
	bodies := make([][]byte, 16)
	for i := range bodies {
		bodies[i] = eventListBody(perBatch, i)
	}
	c := clientWith(srv, nil)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("Authorization", "Bearer "+testToken)
				resp, err := c.Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Errorf("post: %v %v", err, resp)
					return
				}
				_ = resp.Body.Close()
			}
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	b.ReportMetric(float64(b.N*perBatch)/time.Since(start).Seconds(), "events/s")
}
