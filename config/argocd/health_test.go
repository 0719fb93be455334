package argocd

import (
	"bytes"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

var (
	createdAt = metav1.NewTime(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	grantedAt = metav1.NewTime(time.Date(2026, 12, 1, 12, 0, 5, 0, time.UTC))
	expiresAt = metav1.NewTime(time.Date(2026, 12, 1, 12, 30, 5, 0, time.UTC))
)

// healthCase is one object and the health Argo CD must show for it.
type healthCase struct {
	name string
	obj  any
	// edit changes the decoded object, for what the typed one cannot express
	// (a status that is absent rather than empty).
	edit func(map[string]any)
	want health
}

func script(t *testing.T, kind string) string {
	t.Helper()
	for _, h := range HealthChecks() {
		if h.Kind == kind {
			return h.Script
		}
	}
	t.Fatalf("no health check for %s", kind)
	return ""
}

func runCases(t *testing.T, kind string, cases []healthCase) {
	t.Helper()
	lua := script(t, kind)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := objectOf(t, tc.obj)
			if tc.edit != nil {
				tc.edit(obj)
			}
			got, err := runHealth(lua, obj)
			if err != nil {
				t.Fatalf("health check failed: %v", err)
			}
			if got != tc.want {
				t.Fatalf("health\n got  %+v\n want %+v", got, tc.want)
			}
		})
	}
}

func request(phase accessv1alpha1.Phase, message string, edit ...func(*accessv1alpha1.ElevationRequestStatus)) *accessv1alpha1.ElevationRequest {
	er := &accessv1alpha1.ElevationRequest{
		TypeMeta: metav1.TypeMeta{APIVersion: accessv1alpha1.GroupVersion.String(), Kind: "ElevationRequest"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "inc-4711-alice", Namespace: "payments", Generation: 1, CreationTimestamp: createdAt,
		},
		Spec: accessv1alpha1.ElevationRequestSpec{
			Subject: "alice", Connection: "prod-cluster", Role: "namespace-admin", Duration: "30m",
			Justification: "INC-4711: roll back the billing config",
		},
		Status: accessv1alpha1.ElevationRequestStatus{Phase: phase, Message: message, ObservedGeneration: 1, RequestedBy: "alice"},
	}
	for _, e := range edit {
		e(&er.Status)
	}
	return er
}

func condition(conditionType string, status metav1.ConditionStatus, reason, message string) func(*accessv1alpha1.ElevationRequestStatus) {
	return func(s *accessv1alpha1.ElevationRequestStatus) {
		s.Conditions = append(s.Conditions, metav1.Condition{
			Type: conditionType, Status: status, Reason: reason, Message: message, ObservedGeneration: 1, LastTransitionTime: createdAt,
		})
	}
}

func granted(s *accessv1alpha1.ElevationRequestStatus) {
	s.GrantedAt, s.ExpiresAt = &grantedAt, &accessv1alpha1.MilliTime{Time: expiresAt.Time}
	s.Approvals = []accessv1alpha1.ApprovalRecord{{User: "bob", At: createdAt, Comment: "INC-4711 confirmed"}}
}

func revocation(attempts int32, retainedBy string) func(*accessv1alpha1.ElevationRequestStatus) {
	return func(s *accessv1alpha1.ElevationRequestStatus) {
		s.Revocation = &accessv1alpha1.Revocation{Reason: accessv1alpha1.RevocationExpired, StartedAt: &expiresAt, Attempts: attempts, RetainedBy: retainedBy}
	}
}

func verified(s *accessv1alpha1.ElevationRequestStatus) {
	s.Revocation = &accessv1alpha1.Revocation{
		Reason: accessv1alpha1.RevocationExpired, StartedAt: &expiresAt, VerifiedAt: &expiresAt,
		Method: "GET of the request's bindings from the API server, and a SubjectAccessReview",
	}
	s.RevokedAt = accessv1alpha1.NewMilliTime(expiresAt.Time)
}

// atGeneration sets the request's generation and the one its status was
// written for.
func atGeneration(er *accessv1alpha1.ElevationRequest, gen, observed int64) *accessv1alpha1.ElevationRequest {
	er.Generation, er.Status.ObservedGeneration = gen, observed
	return er
}

func removeStatus(obj map[string]any) { delete(obj, "status") }

const (
	residualMessage = "the subject still holds the role's access by 1 other path: RoleBinding payments/backdoor (created inside the window)"
	revokedMessage  = "access removed (Expired) and verified gone at 2026-12-01T12:30:05Z"
	retryMessage    = "revocation not verified, retrying: RoleBinding payments/elevator-inc-4711-alice-4fda56ff91 still present"
)

func elevationRequestCases() []healthCase {
	return []healthCase{
		{name: "no status", obj: request("", ""), edit: removeStatus,
			want: health{"Progressing", "waiting for the operator"}},
		{name: "a status without a phase", obj: request("", ""),
			want: health{"Progressing", "waiting for the operator"}},
		{name: "generation behind", obj: atGeneration(request(accessv1alpha1.PhaseActive, "access granted until 2026-12-01T12:30:05Z", granted), 2, 1),
			want: health{"Progressing", "waiting for the operator to observe generation 2"}},
		{name: "no observedGeneration yet", obj: atGeneration(request(accessv1alpha1.PhasePending, "waiting for approval"), 1, 0),
			want: health{"Progressing", "waiting for the operator to observe generation 1"}},
		{name: "Pending", obj: request(accessv1alpha1.PhasePending, "waiting for approval: 0 of 1 approvals",
			condition(accessv1alpha1.ConditionReady, metav1.ConditionFalse, "Pending", "waiting for approval")),
			want: health{"Suspended", "waiting for approval: 0 of 1 approvals"}},
		{name: "Pending, its connection missing", obj: request(accessv1alpha1.PhasePending, "waiting for approval",
			condition(accessv1alpha1.ConditionReady, metav1.ConditionFalse, accessv1alpha1.ReasonConnectionNotFound, `SaaSConnection "prod-cluster" not found in namespace payments`)),
			want: health{"Degraded", `SaaSConnection "prod-cluster" not found in namespace payments`}},
		{name: "Pending, its role refused by policy", obj: request(accessv1alpha1.PhasePending, "waiting for approval",
			condition(accessv1alpha1.ConditionReady, metav1.ConditionFalse, accessv1alpha1.ReasonPolicyViolation, `spec.role: role "root" does not exist in SaaSConnection "prod-cluster"`)),
			want: health{"Degraded", `spec.role: role "root" does not exist in SaaSConnection "prod-cluster"`}},
		{name: "Pending, ConnectionNotFound no longer the case", obj: request(accessv1alpha1.PhasePending, "waiting for approval",
			condition(accessv1alpha1.ConditionReady, metav1.ConditionTrue, accessv1alpha1.ReasonConnectionNotFound, "stale")),
			want: health{"Suspended", "waiting for approval"}},
		{name: "Approved", obj: request(accessv1alpha1.PhaseApproved, "approved by 1 of 1 required approvers"),
			want: health{"Progressing", "granting: approved by 1 of 1 required approvers"}},
		{name: "Approved without a message", obj: request(accessv1alpha1.PhaseApproved, ""),
			want: health{"Progressing", "granting"}},
		{name: "Active", obj: request(accessv1alpha1.PhaseActive, "access granted", granted),
			want: health{"Healthy", "access granted until 2026-12-01T12:30:05Z"}},
		{name: "Revoking, first attempt", obj: request(accessv1alpha1.PhaseRevoking, "revoking (Expired)", granted, revocation(0, "")),
			want: health{"Progressing", "revoking (Expired)"}},
		{name: "Revoking, attempts failing", obj: request(accessv1alpha1.PhaseRevoking, retryMessage, granted, revocation(3, "")),
			want: health{"Degraded", retryMessage}},
		{name: "Revoking, retained by another request", obj: request(accessv1alpha1.PhaseRevoking, "retained by payments/inc-4712-alice, which holds the same entitlement",
			granted, revocation(2, "payments/inc-4712-alice")),
			want: health{"Progressing", "retained by payments/inc-4712-alice, which holds the same entitlement"}},
		{name: "Revoked", obj: request(accessv1alpha1.PhaseRevoked, revokedMessage, granted, verified),
			want: health{"Healthy", revokedMessage}},
		{name: "Revoked, ResidualAccess False", obj: request(accessv1alpha1.PhaseRevoked, revokedMessage, granted, verified,
			condition(accessv1alpha1.ConditionResidualAccess, metav1.ConditionFalse, "NoOtherPath", "no other path to the role's access")),
			want: health{"Healthy", revokedMessage}},
		{name: "Revoked, ResidualAccess True", obj: request(accessv1alpha1.PhaseRevoked, revokedMessage, granted, verified,
			condition(accessv1alpha1.ConditionRevocationVerified, metav1.ConditionTrue, "Verified", "absent"),
			condition(accessv1alpha1.ConditionResidualAccess, metav1.ConditionTrue, "OtherPaths", residualMessage)),
			want: health{"Degraded", residualMessage}},
		{name: "Denied", obj: request(accessv1alpha1.PhaseDenied, "denied by bob: not during the freeze"),
			want: health{"Degraded", "denied by bob: not during the freeze"}},
		{name: "Expired", obj: request(accessv1alpha1.PhaseExpired, "not approved within the pending timeout of 24h0m0s"),
			want: health{"Degraded", "not approved within the pending timeout of 24h0m0s"}},
		{name: "Failed", obj: request(accessv1alpha1.PhaseFailed, "grant failed: RoleBinding forbidden"),
			want: health{"Degraded", "grant failed: RoleBinding forbidden"}},
		{name: "Failed without a message", obj: request(accessv1alpha1.PhaseFailed, ""),
			want: health{"Degraded", "Failed"}},
		{name: "an unknown phase", obj: request("Paused", "from a newer operator"),
			want: health{"Unknown", "unknown phase Paused"}},
	}
}

func TestElevationRequestHealth(t *testing.T) {
	runCases(t, "ElevationRequest", elevationRequestCases())
}

func connection(edit func(*accessv1alpha1.SaaSConnection)) *accessv1alpha1.SaaSConnection {
	conn := &accessv1alpha1.SaaSConnection{
		TypeMeta:   metav1.TypeMeta{APIVersion: accessv1alpha1.GroupVersion.String(), Kind: "SaaSConnection"},
		ObjectMeta: metav1.ObjectMeta{Name: "prod-cluster", Namespace: "payments", Generation: 1, CreationTimestamp: createdAt},
		Spec: accessv1alpha1.SaaSConnectionSpec{
			Provider:    accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}},
			MaxDuration: "4h",
			Roles:       []accessv1alpha1.Role{{Name: "namespace-admin", Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: "admin", Namespaces: []string{"payments"}}}},
		},
		Status: accessv1alpha1.SaaSConnectionStatus{Provider: "kubernetes", ObservedGeneration: 1},
	}
	if edit != nil {
		edit(conn)
	}
	return conn
}

func ready(status metav1.ConditionStatus, reason, message string) *accessv1alpha1.SaaSConnection {
	return connection(func(c *accessv1alpha1.SaaSConnection) {
		c.Status.Conditions = []metav1.Condition{{
			Type: accessv1alpha1.ConditionReady, Status: status, Reason: reason, Message: message, ObservedGeneration: 1, LastTransitionTime: createdAt,
		}}
	})
}

const insecureMessage = "ldap provider reachable and credentials accepted; insecure: spec.provider.ldap.url ldap:// is plaintext"

func saasConnectionCases() []healthCase {
	return []healthCase{
		{name: "no status", obj: connection(nil), edit: removeStatus,
			want: health{"Progressing", "waiting for the operator"}},
		{name: "no Ready condition", obj: connection(nil),
			want: health{"Progressing", "waiting for the first health check"}},
		{name: "generation behind", obj: connection(func(c *accessv1alpha1.SaaSConnection) {
			c.Generation = 3
			c.Status.ObservedGeneration = 2
			c.Status.Conditions = []metav1.Condition{{Type: accessv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Healthy", Message: "ok", LastTransitionTime: createdAt}}
		}), want: health{"Progressing", "waiting for the operator to observe generation 3"}},
		{name: "Healthy", obj: ready(metav1.ConditionTrue, "Healthy", "kubernetes provider reachable and credentials accepted"),
			want: health{"Healthy", "kubernetes provider reachable and credentials accepted"}},
		{name: "Insecure", obj: ready(metav1.ConditionTrue, "Insecure", insecureMessage),
			want: health{"Healthy", "insecure: " + insecureMessage}},
		{name: "CannotConnect", obj: ready(metav1.ConditionFalse, "CannotConnect", "dial tcp 10.0.0.7:636: connect: connection refused"),
			want: health{"Degraded", "CannotConnect: dial tcp 10.0.0.7:636: connect: connection refused"}},
		{name: "InvalidConfiguration", obj: ready(metav1.ConditionFalse, "InvalidConfiguration", `Secret "ldap-bind" has no key "password"`),
			want: health{"Degraded", `InvalidConfiguration: Secret "ldap-bind" has no key "password"`}},
		{name: "EndpointNotAllowed", obj: ready(metav1.ConditionFalse, "EndpointNotAllowed", "host evil.example is not in --allowed-endpoint-hosts"),
			want: health{"Degraded", "EndpointNotAllowed: host evil.example is not in --allowed-endpoint-hosts"}},
		{name: "Ready Unknown", obj: ready(metav1.ConditionUnknown, "Checking", "first check running"),
			want: health{"Progressing", "health check in progress: Ready is Unknown"}},
	}
}

func TestSaaSConnectionHealth(t *testing.T) {
	runCases(t, "SaaSConnection", saasConnectionCases())
}

// TestHealthChecksToleratePartialObjects runs each script on every object of
// the tables above with one field at a time removed, or replaced by a value
// of another type: a script must still return a valid health, never fail,
// since Argo CD reports a failing script as an error, not as health.
func TestHealthChecksToleratePartialObjects(t *testing.T) {
	kinds := map[string][]healthCase{"ElevationRequest": elevationRequestCases(), "SaaSConnection": saasConnectionCases()}
	for kind, cases := range kinds {
		proto, err := compile(script(t, kind))
		if err != nil {
			t.Fatal(err)
		}
		runs := 0
		for _, tc := range cases {
			base := objectOf(t, tc.obj)
			for _, path := range paths(base, nil) {
				for _, replacement := range []any{nil, true, "x", int64(7), map[string]any{}, []any{"x"}} {
					obj := runtime.DeepCopyJSON(base)
					replace(obj, path, replacement)
					if _, err := runCompiled(proto, obj); err != nil {
						t.Errorf("%s %q with %s set to %#v: %v", kind, tc.name, strings.Join(path, "."), replacement, err)
					}
					runs++
				}
			}
		}
		if runs < 500 {
			t.Fatalf("%s: only %d partial objects tried", kind, runs)
		}
	}
}

// paths lists the path of every value in obj, maps and arrays included.
func paths(value any, prefix []string) [][]string {
	var out [][]string
	switch v := value.(type) {
	case map[string]any:
		for key, item := range v {
			path := append(slices.Clone(prefix), key)
			out = append(out, path)
			out = append(out, paths(item, path)...)
		}
	case []any:
		for i, item := range v {
			path := append(slices.Clone(prefix), strconv.Itoa(i))
			out = append(out, path)
			out = append(out, paths(item, path)...)
		}
	}
	return out
}

// replace sets the value at path, or removes it when replacement is nil.
func replace(obj map[string]any, path []string, replacement any) {
	var parent any = obj
	for _, key := range path[:len(path)-1] {
		parent = child(parent, key)
	}
	last := path[len(path)-1]
	switch p := parent.(type) {
	case map[string]any:
		if replacement == nil {
			delete(p, last)
			return
		}
		p[last] = replacement
	case []any:
		i, _ := strconv.Atoi(last)
		p[i] = replacement
	}
}

func child(parent any, key string) any {
	switch p := parent.(type) {
	case map[string]any:
		return p[key]
	case []any:
		i, _ := strconv.Atoi(key)
		return p[i]
	}
	return nil
}

// TestPatchFileIsGeneratedFromTheScripts keeps the argocd-cm patch from
// drifting from the Lua files: it must be exactly what go generate writes,
// and its data must hold each file's text under its key.
func TestPatchFileIsGeneratedFromTheScripts(t *testing.T) {
	onDisk, err := os.ReadFile(PatchFile)
	if err != nil {
		t.Fatalf("read %s: %v", PatchFile, err)
	}
	generated, err := ConfigMapPatch()
	if err != nil {
		t.Fatalf("render the patch: %v", err)
	}
	if !bytes.Equal(onDisk, generated) {
		t.Fatalf("%s is not what go generate writes from the Lua files: run make generate", PatchFile)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(onDisk, &cm); err != nil {
		t.Fatalf("parse %s: %v", PatchFile, err)
	}
	if cm.Kind != "ConfigMap" || cm.Name != "argocd-cm" || cm.Namespace != "argocd" {
		t.Fatalf("%s patches %s %s/%s, want ConfigMap argocd/argocd-cm", PatchFile, cm.Kind, cm.Namespace, cm.Name)
	}
	var keys []string
	for _, h := range HealthChecks() {
		file, err := os.ReadFile(h.File)
		if err != nil {
			t.Fatalf("read %s: %v", h.File, err)
		}
		if got := cm.Data[h.Key()]; got != string(file) {
			t.Errorf("%s[%s] is not the text of %s", PatchFile, h.Key(), h.File)
		}
		keys = append(keys, h.Key())
	}
	got := make([]string, 0, len(cm.Data))
	for key := range cm.Data {
		got = append(got, key)
	}
	sort.Strings(got)
	want := []string{
		"resource.customizations.health.access.elevator.dev_ElevationRequest",
		"resource.customizations.health.access.elevator.dev_SaaSConnection",
	}
	if !slices.Equal(got, want) || !slices.Equal(keys, want) {
		t.Fatalf("argocd-cm keys %v (health checks %v), want %v", got, keys, want)
	}
}
