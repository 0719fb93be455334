package pgtest

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/elevator-dev/elevator/internal/testenv"
)

// writeTLS makes a CA for this run, and a server certificate it signs for
// 127.0.0.1 and localhost, and writes the server's files into the temp dir.
func (s *Server) writeTLS() error {
	ca, err := testenv.NewCA("elevator pgtest CA")
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.IssueServer()
	if err != nil {
		return err
	}
	s.CACertPEM = ca.CertPEM
	if err := os.WriteFile(filepath.Join(s.dir, "server.crt"), certPEM, 0o600); err != nil {
		return fmt.Errorf("write server certificate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "server.key"), keyPEM, 0o600); err != nil {
		return fmt.Errorf("write server key: %w", err)
	}
	return nil
}
