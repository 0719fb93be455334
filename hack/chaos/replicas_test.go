package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRefusedByRBACFindsOnlyTheOperatorsRefusals(t *testing.T) {
	dir := t.TempDir()
	refused := `E1202 19:32:20.160659 1412 event.go:365] "Server rejected event (will not retry!)" err="events is forbidden: User \"system:serviceaccount:elevator-system:elevator-controller-manager\" cannot create resource \"events\""`
	logs := map[string]string{
		"replica-0.log": `{"level":"info","msg":"Successfully acquired lease"}` + "\n" + refused + "\n",
		// A refusal the operator reports about a user (a webhook denial) is not its own.
		"replica-1.log": `{"level":"info","msg":"denied","reason":"elevationrequests is forbidden: User \"mallory\" cannot approve"}` + "\n",
	}
	for name, text := range logs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := (&replicas{logDir: dir}).refusedByRBAC()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.Contains(got[0], "cannot create resource") {
		t.Fatalf("refusedByRBAC = %q, want only replica 0's refused Event", got)
	}
}

func TestRefusedByRBACFailsWithoutALog(t *testing.T) {
	if _, err := (&replicas{logDir: t.TempDir()}).refusedByRBAC(); err == nil {
		t.Fatal("refusedByRBAC with no replica logs: no error, want one naming the missing log")
	}
}
