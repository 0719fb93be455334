package controller

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// The facts of a request at each point of its lifecycle, as the steps leave them.
var (
	t0      = metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	expires = metav1.NewTime(t0.Add(30 * time.Minute))
)

func approvedBy(users ...string) func(*accessv1alpha1.ElevationRequest) {
	return func(er *accessv1alpha1.ElevationRequest) {
		er.Status.RequiredApprovals = int32(len(users))
		for _, u := range users {
			er.Status.Approvals = append(er.Status.Approvals, accessv1alpha1.ApprovalRecord{User: u, At: t0})
		}
		er.Status.ApprovedAt = &t0
	}
}

func granted(er *accessv1alpha1.ElevationRequest) {
	er.Status.Grant = &accessv1alpha1.GrantAttempt{StartedAt: t0, Verification: "RoleBinding ns/elevator-x present"}
	er.Status.GrantedAt, er.Status.ExpiresAt = &t0, accessv1alpha1.NewMilliTime(expires.Time)
}

func revoking(reason string) func(*accessv1alpha1.ElevationRequest) {
	return func(er *accessv1alpha1.ElevationRequest) {
		er.Status.Revocation = &accessv1alpha1.Revocation{Reason: reason, StartedAt: &expires}
	}
}

func verifiedGone(er *accessv1alpha1.ElevationRequest) {
	er.Status.Revocation.VerifiedAt = &expires
	er.Status.Revocation.Method, er.Status.Revocation.Detail = "fresh read", "RoleBinding ns/elevator-x not found"
	er.Status.RevokedAt = accessv1alpha1.NewMilliTime(expires.Time)
	er.Status.Message = "access removed (Expired) and verified gone"
}

func blocked(reason string) func(*accessv1alpha1.ElevationRequest) {
	return func(er *accessv1alpha1.ElevationRequest) { block(er, reason, "something is wrong") }
}

func failedAttempt(er *accessv1alpha1.ElevationRequest) {
	er.Status.Revocation.Attempts = 2
	block(er, accessv1alpha1.ReasonStillPresent, "a fresh read still shows the access")
}

// conditionSummary renders the conditions as "Type=Status/Reason", sorted.
func conditionSummary(conds []metav1.Condition) string {
	out := make([]string, 0, len(conds))
	for _, c := range conds {
		out = append(out, c.Type+"="+string(c.Status)+"/"+c.Reason)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func TestConditionsForEveryPhase(t *testing.T) {
	cases := []struct {
		name string
		er   *accessv1alpha1.ElevationRequest
		want string
	}{
		{"new", request(""), ""},
		{"pending", request(accessv1alpha1.PhasePending),
			"Approved=False/AwaitingApproval Ready=False/AwaitingApproval Reconciling=True/AwaitingApproval"},
		{"pending, connection missing", request(accessv1alpha1.PhasePending, blocked(accessv1alpha1.ReasonConnectionNotFound)),
			"Approved=False/AwaitingApproval Ready=False/ConnectionNotFound Stalled=True/ConnectionNotFound"},
		{"approved, granting", request(accessv1alpha1.PhaseApproved, approvedBy("bob"), func(er *accessv1alpha1.ElevationRequest) {
			er.Status.Grant = &accessv1alpha1.GrantAttempt{StartedAt: t0}
		}), "Approved=True/Approved Granted=False/GrantStarted Ready=False/GrantStarted Reconciling=True/GrantStarted"},
		{"approved, grant retried", request(accessv1alpha1.PhaseApproved, approvedBy("bob"), func(er *accessv1alpha1.ElevationRequest) {
			er.Status.Grant = &accessv1alpha1.GrantAttempt{StartedAt: t0}
		}, blocked(accessv1alpha1.ReasonGrantFailed)),
			"Approved=True/Approved Granted=False/GrantFailed Ready=False/GrantFailed Reconciling=True/GrantFailed"},
		{"active", request(accessv1alpha1.PhaseActive, approvedBy("bob"), granted),
			"Approved=True/Approved Granted=True/Granted Ready=True/Granted"},
		{"revoking", request(accessv1alpha1.PhaseRevoking, approvedBy("bob"), granted, revoking(accessv1alpha1.RevocationExpired)),
			"Approved=True/Approved Granted=True/Granted Ready=False/Revoking Reconciling=True/Revoking"},
		{"revoking, retained by another holder", request(accessv1alpha1.PhaseRevoking, approvedBy("bob"), granted, revoking(accessv1alpha1.RevocationExpired),
			func(er *accessv1alpha1.ElevationRequest) { er.Status.Revocation.RetainedBy = "ns/other" }),
			"Approved=True/Approved Granted=True/Granted Ready=False/Revoking Reconciling=True/RetainedByOtherRequest RevocationVerified=False/RetainedByOtherRequest"},
		{"revoking, attempts failing", request(accessv1alpha1.PhaseRevoking, approvedBy("bob"), granted, revoking(accessv1alpha1.RevocationExpired), failedAttempt),
			"Approved=True/Approved Granted=True/Granted Ready=False/Revoking RevocationVerified=False/StillPresent Stalled=True/StillPresent"},
		{"revoked", request(accessv1alpha1.PhaseRevoked, approvedBy("bob"), granted, revoking(accessv1alpha1.RevocationExpired), verifiedGone),
			"Approved=True/Approved Granted=True/Granted ResidualAccess=False/NoneFound RevocationVerified=True/Verified Revoked=True/Expired"},
		{"revoked, residual access", request(accessv1alpha1.PhaseRevoked, approvedBy("bob"), granted, revoking(accessv1alpha1.RevocationEarly), verifiedGone,
			func(er *accessv1alpha1.ElevationRequest) {
				er.Status.ResidualAccess = []accessv1alpha1.ResidualAccessPath{{Name: "RoleBinding ns/backdoor", CreatedAt: &t0, InsideWindow: true}}
			}),
			"Approved=True/Approved Granted=True/Granted ResidualAccess=True/ResidualAccess RevocationVerified=True/Verified Revoked=True/EarlyRevoke"},
		{"revoked, standing access left", request(accessv1alpha1.PhaseRevoked, approvedBy("bob"), granted, revoking(accessv1alpha1.RevocationExpired),
			func(er *accessv1alpha1.ElevationRequest) { er.Status.Grant.Preexisting = true }),
			"Approved=True/Approved Granted=True/Granted RevocationVerified=False/StandingAccess Revoked=True/StandingAccess"},
		{"withdrawn before approval", request(accessv1alpha1.PhaseRevoked, revoking(accessv1alpha1.RevocationEarly)),
			"Approved=False/AwaitingApproval Granted=False/NeverGranted RevocationVerified=True/NeverGranted Revoked=True/EarlyRevoke"},
		{"deleted while granting", request(accessv1alpha1.PhaseRevoked, approvedBy("bob"), revoking(accessv1alpha1.RevocationDeleted), func(er *accessv1alpha1.ElevationRequest) {
			er.Status.Grant = &accessv1alpha1.GrantAttempt{StartedAt: t0}
		}, verifiedGone),
			"Approved=True/Approved Granted=False/NeverGranted ResidualAccess=False/NoneFound RevocationVerified=True/Verified Revoked=True/Deleted"},
		{"ended with a grant but no verification (no step leaves this): never verified", request(accessv1alpha1.PhaseRevoked, approvedBy("bob"), granted, revoking(accessv1alpha1.RevocationExpired)),
			"Approved=True/Approved Granted=True/Granted"},
		{"denied", request(accessv1alpha1.PhaseDenied, func(er *accessv1alpha1.ElevationRequest) {
			er.Status.Denial = &accessv1alpha1.DenialRecord{User: "bob", At: t0, Reason: "freeze"}
		}), "Approved=False/Denied Granted=False/NeverGranted"},
		{"pending timeout", request(accessv1alpha1.PhaseExpired),
			"Approved=False/AwaitingApproval Granted=False/NeverGranted"},
		{"refused by policy", request(accessv1alpha1.PhaseFailed, approvedBy("bob")),
			"Approved=True/Approved Granted=False/NeverGranted Stalled=True/PolicyViolation"},
		{"grant refused by the provider, undone", request(accessv1alpha1.PhaseFailed, approvedBy("bob"), func(er *accessv1alpha1.ElevationRequest) {
			er.Status.Grant = &accessv1alpha1.GrantAttempt{StartedAt: t0, Error: "group does not exist"}
		}, revoking(accessv1alpha1.RevocationGrantUndo), verifiedGone),
			"Approved=True/Approved Granted=False/GrantFailed ResidualAccess=False/NoneFound RevocationVerified=True/Verified Revoked=True/GrantFailed Stalled=True/GrantFailed"},
	}
	for _, tc := range cases {
		if got := conditionSummary(conditionsFor(tc.er)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestConditionMessagesComeFromTheFacts(t *testing.T) {
	er := request(accessv1alpha1.PhasePending, func(er *accessv1alpha1.ElevationRequest) {
		er.Status.RequiredApprovals = 2
		er.Status.Approvals = []accessv1alpha1.ApprovalRecord{{User: "bob", At: t0}, {User: "alice", At: t0}}
	})
	setConditions(er)
	if got := condMessage(er, accessv1alpha1.ConditionApproved); got != "1 of 2 approvals" {
		t.Errorf("the subject's own approval must not count: Approved message %q", got)
	}

	er = request(accessv1alpha1.PhaseActive, approvedBy(), granted)
	setConditions(er)
	if got := condMessage(er, accessv1alpha1.ConditionApproved); got != "the role needs no approval" {
		t.Errorf("Approved message %q", got)
	}
	if got, want := condMessage(er, accessv1alpha1.ConditionGranted), "access granted until 2026-12-01T10:30:00Z; verified: RoleBinding ns/elevator-x present"; got != want {
		t.Errorf("Granted message %q, want %q", got, want)
	}

	er = request(accessv1alpha1.PhaseRevoked, approvedBy("bob"), granted, revoking(accessv1alpha1.RevocationExpired), verifiedGone)
	setConditions(er)
	if got, want := condMessage(er, accessv1alpha1.ConditionRevocationVerified), "fresh read: RoleBinding ns/elevator-x not found"; got != want {
		t.Errorf("RevocationVerified message %q, want %q", got, want)
	}
}

func TestSetConditionsKeepsTransitionTimesAndDropsWhatNoLongerApplies(t *testing.T) {
	er := request(accessv1alpha1.PhasePending)
	er.Generation = 3
	setConditions(er)
	approved := findCondition(er, accessv1alpha1.ConditionApproved)
	if approved == nil || approved.ObservedGeneration != 3 {
		t.Fatalf("Approved = %+v, want observedGeneration 3", approved)
	}
	past := metav1.NewTime(t0.Add(-time.Hour))
	approved.LastTransitionTime = past

	approvedBy("bob")(er)
	er.Status.Phase = accessv1alpha1.PhaseActive
	granted(er)
	setConditions(er)
	if c := findCondition(er, accessv1alpha1.ConditionReconciling); c != nil {
		t.Errorf("an active request is not reconciling: %+v", c)
	}
	if c := findCondition(er, accessv1alpha1.ConditionApproved); c.LastTransitionTime.Equal(&past) {
		t.Error("Approved changed from False to True, so its lastTransitionTime must change")
	}
	ready := *findCondition(er, accessv1alpha1.ConditionReady)
	setConditions(er)
	if again := findCondition(er, accessv1alpha1.ConditionReady); !again.LastTransitionTime.Equal(&ready.LastTransitionTime) {
		t.Error("deriving twice from the same facts must not move lastTransitionTime")
	}
}

// TestKstatusForEveryPhase is what Flux (and any kstatus reader) shows for a
// request in each phase, from the derived conditions.
func TestKstatusForEveryPhase(t *testing.T) {
	cases := []struct {
		name string
		er   *accessv1alpha1.ElevationRequest
		want status.Status
	}{
		{"pending", request(accessv1alpha1.PhasePending), status.InProgressStatus},
		{"pending, connection missing", request(accessv1alpha1.PhasePending, blocked(accessv1alpha1.ReasonConnectionNotFound)), status.FailedStatus},
		{"approved", request(accessv1alpha1.PhaseApproved, approvedBy("bob")), status.InProgressStatus},
		{"active", request(accessv1alpha1.PhaseActive, approvedBy("bob"), granted), status.CurrentStatus},
		{"revoking", request(accessv1alpha1.PhaseRevoking, approvedBy("bob"), granted, revoking(accessv1alpha1.RevocationExpired)), status.InProgressStatus},
		{"revoking, failing", request(accessv1alpha1.PhaseRevoking, approvedBy("bob"), granted, revoking(accessv1alpha1.RevocationExpired), failedAttempt), status.FailedStatus},
		{"revoked", request(accessv1alpha1.PhaseRevoked, approvedBy("bob"), granted, revoking(accessv1alpha1.RevocationExpired), verifiedGone), status.CurrentStatus},
		{"denied", request(accessv1alpha1.PhaseDenied), status.CurrentStatus},
		{"pending timeout", request(accessv1alpha1.PhaseExpired), status.CurrentStatus},
		{"failed", request(accessv1alpha1.PhaseFailed), status.FailedStatus},
		{"active, being deleted", request(accessv1alpha1.PhaseActive, approvedBy("bob"), granted, deleting), status.TerminatingStatus},
		{"active, status behind the spec", request(accessv1alpha1.PhaseActive, approvedBy("bob"), granted, func(er *accessv1alpha1.ElevationRequest) {
			er.Generation = 2
		}), status.InProgressStatus},
	}
	for _, tc := range cases {
		er := tc.er
		er.Status.ObservedGeneration = 1
		if er.Generation == 0 {
			er.Generation = 1
		}
		setConditions(er)
		got := kstatus(t, er)
		if got.Status != tc.want {
			t.Errorf("%s: kstatus %s (%s), want %s", tc.name, got.Status, got.Message, tc.want)
		}
	}
}

func kstatus(t *testing.T, er *accessv1alpha1.ElevationRequest) *status.Result {
	t.Helper()
	er.APIVersion, er.Kind = accessv1alpha1.GroupVersion.String(), "ElevationRequest"
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(er)
	if err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func findCondition(er *accessv1alpha1.ElevationRequest, condType string) *metav1.Condition {
	for i := range er.Status.Conditions {
		if er.Status.Conditions[i].Type == condType {
			return &er.Status.Conditions[i]
		}
	}
	return nil
}

func condMessage(er *accessv1alpha1.ElevationRequest, condType string) string {
	if c := findCondition(er, condType); c != nil {
		return c.Message
	}
	return ""
}

func TestActivityRecordedConditionFollowsTheRecord(t *testing.T) {
	counts := accessv1alpha1.ActivityCounts{Total: 3, Config: 1, Access: 1, Data: 1}
	tests := []struct {
		name       string
		rec        *accessv1alpha1.Activity
		want       string
		wantInNote string
	}{
		{"no record", nil, "", ""},
		{"collecting", &accessv1alpha1.Activity{State: accessv1alpha1.ActivityCollecting, Reason: accessv1alpha1.ReasonActivityCollecting, Counts: counts},
			"Unknown/Collecting", "alice made 3 changes while elevated: 1 config, 1 access, 1 data so far"},
		{"complete", &accessv1alpha1.Activity{State: accessv1alpha1.ActivityComplete, Reason: accessv1alpha1.ReasonActivityComplete, Counts: counts},
			"True/Complete", "alice made 3 changes"},
		{"partial", &accessv1alpha1.Activity{State: accessv1alpha1.ActivityPartial, Reason: accessv1alpha1.ReasonActivityDropped, Message: "2 actions dropped", Counts: counts},
			"False/ActionsDropped", "may still have happened (2 actions dropped); recorded: alice made 3 changes"},
		{"unavailable", &accessv1alpha1.Activity{State: accessv1alpha1.ActivityUnavailable, Reason: accessv1alpha1.ReasonNoActivitySource, Message: "Active Directory keeps no audit log readable over LDAP"},
			"False/NoActivitySource", "Active Directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			er := &accessv1alpha1.ElevationRequest{Spec: accessv1alpha1.ElevationRequestSpec{Subject: "alice"}}
			er.Status.Activity = tt.rec
			c := activityRecordedCondition(er)
			if tt.want == "" {
				if c != nil {
					t.Fatalf("condition %+v without a record", c)
				}
				return
			}
			if got := string(c.Status) + "/" + c.Reason; got != tt.want || !strings.Contains(c.Message, tt.wantInNote) {
				t.Errorf("got %s %q, want %s containing %q", got, c.Message, tt.want, tt.wantInNote)
			}
		})
	}
}
