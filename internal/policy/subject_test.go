package policy

import (
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestCheckSubject(t *testing.T) {
	cases := []struct {
		name    string
		policy  accessv1alpha1.SubjectPolicy
		subject string
		wantErr string // empty: accepted
	}{
		{"a person", accessv1alpha1.SubjectPolicy{}, "alice@example.com", ""},
		{"anonymous", accessv1alpha1.SubjectPolicy{}, "system:anonymous", "is a Kubernetes system identity"},
		{"a node, in capitals", accessv1alpha1.SubjectPolicy{}, "SYSTEM:node:worker-1", "is a Kubernetes system identity"},
		{"a ServiceAccount by default", accessv1alpha1.SubjectPolicy{}, "system:serviceaccount:team-a:bot", "spec.subjects.allowServiceAccounts"},
		{"a ServiceAccount where allowed", accessv1alpha1.SubjectPolicy{AllowServiceAccounts: true}, "system:serviceaccount:team-a:bot", ""},
		{"other system names even where ServiceAccounts are allowed", accessv1alpha1.SubjectPolicy{AllowServiceAccounts: true}, "system:kube-controller-manager", "is a Kubernetes system identity"},
		{"matching the pattern", accessv1alpha1.SubjectPolicy{Pattern: `[a-z.]+@example\.com`}, "alice@example.com", ""},
		{"the pattern is anchored", accessv1alpha1.SubjectPolicy{Pattern: `[a-z.]+@example\.com`}, "alice@example.com.evil.test", "does not match the subject pattern"},
		{"a broken pattern names the field", accessv1alpha1.SubjectPolicy{Pattern: `(`}, "alice", "spec.subjects.pattern"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := &accessv1alpha1.SaaSConnection{Spec: accessv1alpha1.SaaSConnectionSpec{Subjects: c.policy}}
			conn.Name = "prod"
			err := CheckSubject(conn, c.subject)
			if c.wantErr == "" && err != nil {
				t.Fatalf("CheckSubject(%q) = %v, want accepted", c.subject, err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("CheckSubject(%q) = %v, want an error containing %q", c.subject, err, c.wantErr)
			}
		})
	}
}

func TestSameUser(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"alice", "alice", true},
		{"ALICE", "alice", true},
		{"alice ", "alice", true},
		{"alice", "alicia", false},
		{"", "", false}, // an unknown user is no one
	}
	for _, c := range cases {
		if got := SameUser(c.a, c.b); got != c.want {
			t.Errorf("SameUser(%q, %q) = %t, want %t", c.a, c.b, got, c.want)
		}
	}
}

func TestCheckAutoApproval(t *testing.T) {
	auto := &accessv1alpha1.Role{Name: "viewer", RequiredApprovals: ptr.To(int32(0))}
	approved := &accessv1alpha1.Role{Name: "admin"}
	cases := []struct {
		name               string
		role               *accessv1alpha1.Role
		subject, requester string
		wantErr            string
	}{
		{"the subject asks for herself", auto, "alice", "alice", ""},
		{"the subject, another case", auto, "alice", "Alice", ""},
		{"someone else for her", auto, "alice", "mallory", `user "mallory" asked for "alice"`},
		{"an unknown requester", auto, "alice", "", "the requester is unknown"},
		{"an approved role may be asked for anyone", approved, "alice", "mallory", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckAutoApproval(c.role, c.subject, c.requester)
			if c.wantErr == "" && err != nil {
				t.Fatalf("got %v, want accepted", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("got %v, want an error containing %q", err, c.wantErr)
			}
		})
	}
}
