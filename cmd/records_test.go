package main

import (
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
)

func TestWarnWebhooksOffSaysNothingTypedIsApproved(t *testing.T) {
	var lines []string
	log := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{})
	warnWebhooksOff(log)
	if len(lines) != 1 {
		t.Fatalf("want one log line, got %q", lines)
	}
	for _, want := range []string{`"error"`, "ADMISSION WEBHOOKS ARE OFF", "are NOT accepted", "Nothing will be approved or granted, not even roles with requiredApprovals: 0"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("log line %q lacks %q", lines[0], want)
		}
	}
}
