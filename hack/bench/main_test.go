package main

import (
	"slices"
	"strings"
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

func TestTargetsMustFitSpecTargets(t *testing.T) {
	cfg, err := parseFlags(nil)
	if err != nil || cfg.targets != 1 {
		t.Fatalf("default -targets = %d (%v), want 1", cfg.targets, err)
	}
	for _, bad := range []string{"0", "17"} {
		_, err := parseFlags([]string{"-targets", bad})
		if err == nil || !strings.Contains(err.Error(), "-targets") || !strings.Contains(err.Error(), "16") {
			t.Errorf("-targets %s: error %v, want one naming -targets and the limit 16", bad, err)
		}
	}
}

func TestRequestSpecUsesTargetsOnlyForMoreThanOne(t *testing.T) {
	one := requestSpec(1, "u", "1m", "why")
	if one.Connection != connection || one.Role != role || one.IsMultiTarget() {
		t.Errorf("-targets 1: spec %+v, want the one connection and role", one)
	}
	four := requestSpec(4, "u", "1m", "why")
	if four.Connection != "" || len(four.Targets) != 4 {
		t.Fatalf("-targets 4: spec %+v, want 4 targets", four)
	}
	seen := map[string]bool{}
	for i, tg := range four.Targets {
		if tg.Connection != connectionName(i) || tg.Role != role || seen[tg.Connection] {
			t.Errorf("target %d = %v", i, tg)
		}
		seen[tg.Connection] = true
	}
	if got := targetNamespaces(4); got[0] != namespace || got[3] != namespace+"-t4" {
		t.Errorf("target namespaces %v: the first is the bench namespace, the others their own", got)
	}
}

func TestOperatorEnvIsNameValuePairs(t *testing.T) {
	cfg, err := parseFlags([]string{"-operator-env", "GOMEMLIMIT=224MiB GOGC=50"})
	if err != nil || !slices.Equal(cfg.operatorEnv, []string{"GOMEMLIMIT=224MiB", "GOGC=50"}) {
		t.Fatalf("-operator-env: %q (%v), want the two pairs", cfg.operatorEnv, err)
	}
	for _, bad := range []string{"GOMEMLIMIT", "=224MiB"} {
		if _, err := parseFlags([]string{"-operator-env", bad}); err == nil || !strings.Contains(err.Error(), "-operator-env") {
			t.Errorf("-operator-env %q: error %v, want one naming -operator-env", bad, err)
		}
	}
}
