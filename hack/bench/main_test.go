package main

import (
	"testing"
	"time"
)

func TestPatternSetsTheCreationWindowAndDuration(t *testing.T) {
	cases := []struct {
		args         []string
		wantWindow   time.Duration
		wantDuration time.Duration
	}{
		{[]string{"-n", "1000"}, 40 * time.Second, 70 * time.Second},
		{[]string{"-n", "1000", "-pattern", "paced", "-rate", "1000", "-min-duration", "60s"}, time.Second, 61 * time.Second},
		{[]string{"-n", "1000", "-pattern", "burst", "-min-duration", "60s"}, 0, 60 * time.Second},
	}
	for _, c := range cases {
		cfg, err := parseFlags(c.args)
		if err != nil {
			t.Fatalf("parseFlags(%v): %v", c.args, err)
		}
		if got := cfg.creationWindow(1000); got != c.wantWindow {
			t.Errorf("%v: creation window %v, want %v", c.args, got, c.wantWindow)
		}
		if got := cfg.requestDuration(1000); got != c.wantDuration {
			t.Errorf("%v: request duration %v, want %v", c.args, got, c.wantDuration)
		}
	}
}

func TestUnknownPatternIsRefused(t *testing.T) {
	if _, err := parseFlags([]string{"-pattern", "spike"}); err == nil {
		t.Error("parseFlags accepted -pattern spike")
	}
}
