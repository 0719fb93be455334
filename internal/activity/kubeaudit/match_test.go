package kubeaudit

import (
	"testing"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

var (
	windowFrom  = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	windowUntil = windowFrom.Add(30 * time.Minute)
	inWindow    = windowFrom.Add(time.Minute)
	grantRB     = accessv1alpha1.BindingRef{Kind: "RoleBinding", Namespace: "payments", Name: "elevator-req-0123456789"}
	paymentsOps = Scope{Subject: "alice", Namespaces: []string{"payments"}, Bindings: []accessv1alpha1.BindingRef{grantRB}}
)

const viaGrant = `RBAC: allowed by RoleBinding "elevator-req-0123456789/payments" of ClusterRole "admin" to User "alice"`

// event is a completed, allowed create of a ConfigMap in payments by alice,
// inside the window, allowed by the grant's binding; each case changes it.
func event(change func(*Event)) Event {
	ev := Event{
		AuditID: "id-1", Stage: "ResponseComplete", At: inWindow, User: "alice", Verb: "create",
		Resource: "configmaps", Namespace: "payments", Name: "cfg", Code: 201, Decision: "allow", Reason: viaGrant,
	}
	if change != nil {
		change(&ev)
	}
	return ev
}

func TestMatchBelongsToTheElevation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ev    Event
		scope Scope
		want  bool
	}{
		{"the subject, in the window and namespace", event(nil), paymentsOps, true},
		{"another user", event(func(e *Event) { e.User = "mallory" }), paymentsOps, false},
		{"user names are compared exactly", event(func(e *Event) { e.User = "Alice" }), paymentsOps, false},
		{"before From", event(func(e *Event) { e.At = windowFrom.Add(-time.Microsecond) }), paymentsOps, false},
		{"at From", event(func(e *Event) { e.At = windowFrom }), paymentsOps, true},
		{"at Until", event(func(e *Event) { e.At = windowUntil }), paymentsOps, true},
		{"after Until", event(func(e *Event) { e.At = windowUntil.Add(time.Microsecond) }), paymentsOps, false},
		{"another namespace", event(func(e *Event) { e.Namespace = "billing" }), paymentsOps, false},
		{"cluster-scoped, namespaced role", event(func(e *Event) { e.Namespace, e.Resource = "", "namespaces" }), paymentsOps, false},
		{"another namespace, cluster-wide role", event(func(e *Event) { e.Namespace = "billing" }), Scope{Subject: "alice", ClusterWide: true}, true},
		{"stage ResponseStarted", event(func(e *Event) { e.Stage = "ResponseStarted" }), paymentsOps, false},
		{"stage RequestReceived", event(func(e *Event) { e.Stage = "RequestReceived" }), paymentsOps, false},
		{"stage Panic", event(func(e *Event) { e.Stage = "Panic" }), paymentsOps, true},
		{"someone impersonating the subject", event(func(e *Event) { e.User, e.ImpersonatedUser = "bob", "alice" }), paymentsOps, true},
		{"the subject impersonating someone", event(func(e *Event) { e.ImpersonatedUser = "carol" }), paymentsOps, true},
		{"someone impersonating someone else", event(func(e *Event) { e.User, e.ImpersonatedUser = "bob", "carol" }), paymentsOps, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got := Match(tc.ev, tc.scope, windowFrom, windowUntil)
			if got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMatchOfAnOpenWindowHasNoEnd(t *testing.T) {
	if _, ok := Match(event(func(e *Event) { e.At = windowUntil.Add(time.Hour) }), paymentsOps, windowFrom, time.Time{}); !ok {
		t.Error("an event after the window's start is not matched while the window is open (Until zero)")
	}
}

func TestMatchRecordsImpersonationDenialAndTheGrantsOwnAccess(t *testing.T) {
	a, _ := Match(event(func(e *Event) { e.User, e.ImpersonatedUser = "bob", "alice" }), paymentsOps, windowFrom, windowUntil)
	if a.ImpersonatedBy != "bob" || a.Action != "create" {
		t.Errorf("bob acting as alice: ImpersonatedBy %q, Action %q; want bob, create", a.ImpersonatedBy, a.Action)
	}
	a, _ = Match(event(func(e *Event) { e.ImpersonatedUser = "carol" }), paymentsOps, windowFrom, windowUntil)
	if a.ImpersonatedBy != "" || a.Action != "create as carol" {
		t.Errorf("alice acting as carol: ImpersonatedBy %q, Action %q; want none, %q", a.ImpersonatedBy, a.Action, "create as carol")
	}
	a, _ = Match(event(nil), paymentsOps, windowFrom, windowUntil)
	if a.ID != "id-1" || !a.At.Equal(inWindow) || a.Object != "ConfigMap payments/cfg" || a.Denied || a.NotViaElevation {
		t.Errorf("an action allowed by the grant's binding: %+v", a)
	}
	a, _ = Match(event(func(e *Event) {
		e.Reason = `RBAC: allowed by RoleBinding "old-admins/payments" of ClusterRole "admin" to User "alice"`
	}), paymentsOps, windowFrom, windowUntil)
	if !a.NotViaElevation {
		t.Error("an action allowed by another binding is not NotViaElevation")
	}
	a, _ = Match(event(func(e *Event) { e.Decision, e.Reason, e.Code = "forbid", "", 403 }), paymentsOps, windowFrom, windowUntil)
	if !a.Denied || a.NotViaElevation {
		t.Errorf("a forbidden attempt: Denied %v NotViaElevation %v; want true, false", a.Denied, a.NotViaElevation)
	}
}

func TestDenied(t *testing.T) {
	for _, tc := range []struct {
		decision string
		code     int32
		want     bool
	}{
		{"allow", 201, false}, {"forbid", 0, true}, {"", 403, true}, {"", 401, true}, {"allow", 404, false}, {"allow", 409, false},
	} {
		if got := Denied(Event{Decision: tc.decision, Code: tc.code}); got != tc.want {
			t.Errorf("Denied(decision %q, code %d) = %v, want %v", tc.decision, tc.code, got, tc.want)
		}
	}
}

func TestViaBindings(t *testing.T) {
	crb := accessv1alpha1.BindingRef{Kind: "ClusterRoleBinding", Name: "elevator-x-1"}
	for _, tc := range []struct {
		reason   string
		bindings []accessv1alpha1.BindingRef
		want     bool
	}{
		{viaGrant, []accessv1alpha1.BindingRef{grantRB}, true},
		{`RBAC: allowed by ClusterRoleBinding "elevator-x-1" of ClusterRole "admin" to User "alice"`, []accessv1alpha1.BindingRef{crb}, true},
		// A RoleBinding's name is NAME/NAMESPACE in the reason, not NAMESPACE/NAME.
		{`RBAC: allowed by RoleBinding "payments/elevator-req-0123456789" of ClusterRole "admin" to User "alice"`, []accessv1alpha1.BindingRef{grantRB}, false},
		// A ClusterRoleBinding of the same name as the grant's RoleBinding is not it.
		{`RBAC: allowed by ClusterRoleBinding "elevator-req-0123456789" of ClusterRole "admin" to User "alice"`, []accessv1alpha1.BindingRef{grantRB}, false},
		// Nor is a RoleBinding named like the grant's ClusterRoleBinding.
		{`RBAC: allowed by RoleBinding "elevator-x-1/payments" of ClusterRole "admin" to User "alice"`, []accessv1alpha1.BindingRef{crb}, false},
		{"", []accessv1alpha1.BindingRef{grantRB}, false},
		{viaGrant, nil, false},
	} {
		if got := ViaBindings(tc.reason, tc.bindings); got != tc.want {
			t.Errorf("ViaBindings(%q, %v) = %v, want %v", tc.reason, tc.bindings, got, tc.want)
		}
	}
}

func TestCategoryAndObject(t *testing.T) {
	for _, tc := range []struct {
		ev       Event
		category accessv1alpha1.ActivityCategory
		object   string
	}{
		{Event{Verb: "create", APIGroup: "rbac.authorization.k8s.io", Resource: "rolebindings", Namespace: "payments", Name: "backdoor"}, accessv1alpha1.ActivityAccess, "RoleBinding payments/backdoor"},
		{Event{Verb: "patch", APIGroup: "rbac.authorization.k8s.io", Resource: "clusterrolebindings", Name: "root"}, accessv1alpha1.ActivityAccess, "ClusterRoleBinding root"},
		{Event{Verb: "update", APIGroup: "rbac.authorization.k8s.io", Resource: "roles", Namespace: "payments", Name: "r"}, accessv1alpha1.ActivityAccess, "Role payments/r"},
		{Event{Verb: "delete", APIGroup: "rbac.authorization.k8s.io", Resource: "clusterroles", Name: "c"}, accessv1alpha1.ActivityAccess, "ClusterRole c"},
		{Event{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: "payments", Name: "ci"}, accessv1alpha1.ActivityAccess, "ServiceAccount payments/ci (token)"},
		{Event{Verb: "create", APIGroup: "certificates.k8s.io", Resource: "certificatesigningrequests", Name: "csr-1"}, accessv1alpha1.ActivityAccess, "CertificateSigningRequest csr-1"},
		{Event{Verb: "update", APIGroup: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "approval", Name: "csr-1"}, accessv1alpha1.ActivityAccess, "CertificateSigningRequest csr-1 (approval)"},
		{Event{Verb: "patch", APIGroup: "access.elevator.dev", Resource: "elevationrequests", Namespace: "payments", Name: "r1"}, accessv1alpha1.ActivityAccess, "ElevationRequest payments/r1"},
		{Event{Verb: "create", Resource: "secrets", Namespace: "payments", Name: "db"}, accessv1alpha1.ActivityData, "Secret payments/db"},
		{Event{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "payments", Name: "web-1"}, accessv1alpha1.ActivityData, "Pod payments/web-1 (exec)"},
		{Event{Verb: "get", Resource: "pods", Subresource: "exec", Namespace: "payments", Name: "web-1"}, accessv1alpha1.ActivityData, "Pod payments/web-1 (exec)"},
		{Event{Verb: "create", Resource: "pods", Subresource: "attach", Namespace: "payments", Name: "web-1"}, accessv1alpha1.ActivityData, "Pod payments/web-1 (attach)"},
		{Event{Verb: "create", Resource: "pods", Subresource: "portforward", Namespace: "payments", Name: "web-1"}, accessv1alpha1.ActivityData, "Pod payments/web-1 (portforward)"},
		{Event{Verb: "create", Resource: "configmaps", Namespace: "payments", Name: "cfg"}, accessv1alpha1.ActivityConfig, "ConfigMap payments/cfg"},
		{Event{Verb: "deletecollection", Resource: "configmaps", Namespace: "payments"}, accessv1alpha1.ActivityConfig, "ConfigMap payments/*"},
		{Event{Verb: "create", Resource: "resourcequotas", Namespace: "payments"}, accessv1alpha1.ActivityConfig, "ResourceQuota payments/(name not logged)"},
		{Event{Verb: "patch", APIGroup: "apps", Resource: "deployments", Subresource: "scale", Namespace: "payments", Name: "web"}, accessv1alpha1.ActivityConfig, "Deployment payments/web (scale)"},
		{Event{Verb: "create", Resource: "serviceaccounts", Namespace: "payments", Name: "ci"}, accessv1alpha1.ActivityConfig, "ServiceAccount payments/ci"},
		{Event{Verb: "update", APIGroup: "example.com", Resource: "widgets", Namespace: "payments", Name: "w"}, accessv1alpha1.ActivityConfig, "widgets.example.com payments/w"},
		{Event{Verb: "get", Resource: "secrets", Namespace: "payments", Name: "db"}, accessv1alpha1.ActivityOther, "Secret payments/db"},
		{Event{Verb: "list", APIGroup: "rbac.authorization.k8s.io", Resource: "rolebindings", Namespace: "payments"}, accessv1alpha1.ActivityOther, "RoleBinding payments/*"},
		{Event{Verb: "watch", Resource: "nodes"}, accessv1alpha1.ActivityOther, "Node *"},
		{Event{Verb: "get", Path: "/healthz"}, accessv1alpha1.ActivityOther, "/healthz"},
	} {
		if got := Category(tc.ev); got != tc.category {
			t.Errorf("Category(%s %s/%s/%s) = %s, want %s", tc.ev.Verb, tc.ev.APIGroup, tc.ev.Resource, tc.ev.Subresource, got, tc.category)
		}
		if got := Object(tc.ev); got != tc.object {
			t.Errorf("Object(%+v) = %q, want %q", tc.ev, got, tc.object)
		}
	}
}
