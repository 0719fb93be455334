package main

import (
	"flag"
	"strings"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

func TestLeaderElectionDefaultsReachTheManager(t *testing.T) {
	var l leaderElection
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	l.bindFlags(fs)
	if err := fs.Parse([]string{"--leader-elect-namespace=elevator-system"}); err != nil {
		t.Fatal(err)
	}
	if err := l.validate(); err != nil {
		t.Fatalf("the defaults must be valid: %v", err)
	}
	var o ctrl.Options
	l.apply(&o)
	if *o.LeaseDuration != 15*time.Second || *o.RenewDeadline != 10*time.Second || *o.RetryPeriod != 2*time.Second {
		t.Errorf("lease %s, renew %s, retry %s; want 15s, 10s, 2s", *o.LeaseDuration, *o.RenewDeadline, *o.RetryPeriod)
	}
	if !o.LeaderElectionReleaseOnCancel {
		t.Error("a replica stopped gracefully must release its lease")
	}
	if o.LeaderElectionNamespace != "elevator-system" {
		t.Errorf("namespace %q, want elevator-system", o.LeaderElectionNamespace)
	}
}

func TestLeaderElectionRejectsTimingsOutOfOrder(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--leader-elect-lease-duration=3s", "--leader-elect-renew-deadline=3s"}, "--leader-elect-lease-duration"},
		{[]string{"--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=2s"}, "--leader-elect-renew-deadline"},
		{[]string{"--leader-elect-retry-period=0s"}, "--leader-elect-retry-period"},
	} {
		var l leaderElection
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		l.bindFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := l.validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one naming %s", tc.args, err, tc.want)
		}
	}
}

func TestLeaderElectionChaosTimingsAreValid(t *testing.T) {
	l := leaderElection{leaseDuration: 4 * time.Second, renewDeadline: 3 * time.Second, retryPeriod: 500 * time.Millisecond}
	if err := l.validate(); err != nil {
		t.Errorf("the timings hack/chaos runs with must be valid: %v", err)
	}
}
