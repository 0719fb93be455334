package main

import (
	"flag"
	"strings"
	"testing"
)

func parseAudit(t *testing.T, args ...string) (auditOptions, error) {
	t.Helper()
	var a auditOptions
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	a.bindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return a, a.validate()
}

func TestAuditReceiverFlags(t *testing.T) {
	if a, err := parseAudit(t); err != nil || a.bindAddress != "" {
		t.Errorf("by default the receiver is off and valid: %+v, %v", a, err)
	}
	if _, err := parseAudit(t, "--audit-receiver-bind-address=:9444"); err == nil || !strings.Contains(err.Error(), "token-file") {
		t.Errorf("a receiver without a token or client CA: got %v, want an error naming the flags", err)
	}
	if _, err := parseAudit(t, "--audit-receiver-bind-address=:9444", "--audit-receiver-token-file=/t", "--audit-buffer-events=0"); err == nil {
		t.Error("a receiver with no buffer was accepted")
	}
	a, err := parseAudit(t, "--audit-receiver-bind-address=:9444", "--audit-receiver-client-ca-file=/ca", "--audit-delivery-delay=3s")
	if err != nil || a.delay.Seconds() != 3 || a.clientCAFile != "/ca" {
		t.Errorf("a receiver with a client CA: %+v, %v", a, err)
	}
}
