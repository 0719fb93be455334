package slapdtest

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/elevator-dev/elevator/internal/testenv"
)

// tlsFiles are the PEM files slapd's TLS directives name.
type tlsFiles struct {
	caPEM    []byte
	caFile   string
	certFile string
	keyFile  string
}

// writeTLSFiles makes a CA for this one server and a certificate it signs for
// 127.0.0.1, and writes them into dir.
func writeTLSFiles(dir string) (tlsFiles, error) {
	ca, err := testenv.NewCA("slapdtest CA")
	if err != nil {
		return tlsFiles{}, err
	}
	certPEM, keyPEM, err := ca.IssueServer()
	if err != nil {
		return tlsFiles{}, err
	}
	f := tlsFiles{
		caPEM:    ca.CertPEM,
		caFile:   filepath.Join(dir, "ca.pem"),
		certFile: filepath.Join(dir, "server.pem"),
		keyFile:  filepath.Join(dir, "server-key.pem"),
	}
	for name, data := range map[string][]byte{f.caFile: f.caPEM, f.certFile: certPEM, f.keyFile: keyPEM} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return tlsFiles{}, fmt.Errorf("write %s: %w", name, err)
		}
	}
	return f, nil
}
