package main

import (
	"testing"
	"time"
)

func TestEndIsTheFirstOfExpiryEarlyEndAndTerminal(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		s    seen
		t    tracked
		want time.Time
	}{
		{"nothing known yet", seen{}, tracked{}, time.Time{}},
		{"expiry only", seen{expiresAt: t0.Add(10 * time.Second)}, tracked{}, t0.Add(10 * time.Second)},
		{"revoked before expiry", seen{expiresAt: t0.Add(10 * time.Second)}, tracked{endAsked: t0.Add(3 * time.Second)}, t0.Add(3 * time.Second)},
		{"never granted, seen terminal", seen{terminalAt: t0.Add(8 * time.Second)}, tracked{}, t0.Add(8 * time.Second)},
		{"terminal after expiry", seen{expiresAt: t0, terminalAt: t0.Add(time.Second)}, tracked{}, t0},
	} {
		s := tc.s
		if got := end(&s, tc.t); !got.Equal(tc.want) {
			t.Errorf("%s: end = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestOverdueCountsFromTheLaterOfEndAndLeadership(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		leading     bool
		leaderSince time.Time
		end, now    time.Time
		want        bool
	}{
		{"within the bound", true, t0.Add(-time.Hour), t0, t0.Add(accessBound), false},
		{"past the bound", true, t0.Add(-time.Hour), t0, t0.Add(accessBound + time.Millisecond), true},
		{"no leader: not counted", false, t0.Add(-time.Hour), t0, t0.Add(time.Hour), false},
		{"leader since after the end: bound from then", true, t0.Add(10 * time.Second), t0, t0.Add(10*time.Second + accessBound), false},
		{"leader since after the end, past its bound", true, t0.Add(10 * time.Second), t0, t0.Add(11*time.Second + accessBound), true},
		{"end unknown", true, t0.Add(-time.Hour), time.Time{}, t0, false},
	} {
		c := &checker{leading: tc.leading, leaderSince: tc.leaderSince}
		if got := c.overdue(tc.end, tc.now); got != tc.want {
			t.Errorf("%s: overdue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseFlagsShortAndFull(t *testing.T) {
	short, err := parseFlags([]string{"-short", "-seed", "7"})
	if err != nil {
		t.Fatal(err)
	}
	if short.duration != time.Minute || short.kills != 10 || short.seed != 7 {
		t.Errorf("short: duration %s, kills %d, seed %d; want 1m, 10, 7", short.duration, short.kills, short.seed)
	}
	full, err := parseFlags([]string{"-duration", "10m"})
	if err != nil {
		t.Fatal(err)
	}
	if full.kills != 100 || full.seed == 0 {
		t.Errorf("full over 10m: kills %d (want one per 6 s, 100), seed %d (want one picked)", full.kills, full.seed)
	}
}
