package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

var t0 = time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time {
	t := metav1.NewTime(t0.Add(d))
	return &t
}

func milliAt(d time.Duration) *accessv1alpha1.MilliTime {
	return accessv1alpha1.NewMilliTime(t0.Add(d))
}

func request(mutate ...func(*accessv1alpha1.ElevationRequest)) *accessv1alpha1.ElevationRequest {
	er := &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "fix-billing", Namespace: "payments", UID: "uid-1", CreationTimestamp: metav1.NewTime(t0)},
		Spec: accessv1alpha1.ElevationRequestSpec{Subject: "alice", Connection: "prod", Role: "admin", Duration: "30m",
			Justification: "INC-4711: roll back\n the <!channel> config", Ticket: "INC-4711"},
		Status: accessv1alpha1.ElevationRequestStatus{Phase: accessv1alpha1.PhasePending, RequestedBy: "alice"},
	}
	for _, m := range mutate {
		m(er)
	}
	return er
}

func approved(er *accessv1alpha1.ElevationRequest) {
	er.Status.Approvals = []accessv1alpha1.ApprovalRecord{{User: "bob", At: *at(time.Minute)}}
	er.Status.ApprovedBy, er.Status.ApprovedAt = "bob", at(time.Minute)
}

func active(er *accessv1alpha1.ElevationRequest) {
	approved(er)
	er.Status.Phase = accessv1alpha1.PhaseActive
	er.Status.GrantedAt, er.Status.ExpiresAt = at(time.Minute), milliAt(31*time.Minute)
}

func revoked(er *accessv1alpha1.ElevationRequest) {
	active(er)
	er.Status.Phase = accessv1alpha1.PhaseRevoked
	er.Status.Revocation = &accessv1alpha1.Revocation{Reason: accessv1alpha1.RevocationExpired, VerifiedAt: at(31 * time.Minute), Method: "GET of the request's bindings"}
	er.Status.RevokedAt = milliAt(31 * time.Minute)
}

func types(events []Event) string {
	var out []string
	for _, e := range events {
		out = append(out, string(e.Type))
	}
	return strings.Join(out, ",")
}

func TestDueFollowsTheFacts(t *testing.T) {
	tests := []struct {
		name string
		er   *accessv1alpha1.ElevationRequest
		now  time.Duration
		want string
	}{
		{"pending", request(), time.Second, "requested"},
		{"no status yet", request(func(er *accessv1alpha1.ElevationRequest) { er.Status.Phase = "" }), time.Second, ""},
		{"denied", request(func(er *accessv1alpha1.ElevationRequest) {
			er.Status.Phase = accessv1alpha1.PhaseDenied
			er.Status.Denial = &accessv1alpha1.DenialRecord{User: "carol", At: *at(time.Minute)}
		}), 2 * time.Minute, "requested,denied"},
		{"active, before the reminder", request(active), 10 * time.Minute, "requested,approved,granted"},
		{"active, reminder due", request(active), 26 * time.Minute, "requested,approved,granted,expiringSoon"},
		{"revoked: no reminder once ended", request(revoked), 32 * time.Minute, "requested,approved,granted,revoked"},
		{"revoked with residual access", request(revoked, func(er *accessv1alpha1.ElevationRequest) {
			er.Status.ResidualAccess = []accessv1alpha1.ResidualAccessPath{{Name: "RoleBinding payments/backdoor"}}
		}), 32 * time.Minute, "requested,approved,granted,revoked,residualAccess"},
		{"revocation overdue", request(active, func(er *accessv1alpha1.ElevationRequest) {
			er.Status.Phase = accessv1alpha1.PhaseRevoking
			er.Status.Revocation = &accessv1alpha1.Revocation{Reason: accessv1alpha1.RevocationExpired, Attempts: 3}
		}), 33 * time.Minute, "requested,approved,granted,revocationOverdue"},
		{"retained by another request is not overdue", request(active, func(er *accessv1alpha1.ElevationRequest) {
			er.Status.Phase = accessv1alpha1.PhaseRevoking
			er.Status.Revocation = &accessv1alpha1.Revocation{Reason: accessv1alpha1.RevocationExpired, Attempts: 3, RetainedBy: "other"}
		}), 33 * time.Minute, "requested,approved,granted"},
		{"facts older than MaxAge are not replayed", request(revoked), 3 * time.Hour, ""},
		{"break-glass", request(func(er *accessv1alpha1.ElevationRequest) {
			er.Status.Phase = accessv1alpha1.PhaseApproved
			er.Status.BreakGlass = &accessv1alpha1.BreakGlassStatus{Used: accessv1alpha1.BreakGlassRecord{User: "alice", At: *at(time.Minute), Reason: "db down"}}
			er.Status.ApprovedAt = at(time.Minute)
		}), 2 * time.Minute, "requested,approved,breakGlassUsed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := types(Due(tt.er, DefaultExpiringSoon, t0.Add(tt.now))); got != tt.want {
				t.Errorf("due = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOverdueRepeatsWithBackoff(t *testing.T) {
	ids := map[string]int32{}
	for attempts := int32(1); attempts <= 9; attempts++ {
		er := request(active, func(er *accessv1alpha1.ElevationRequest) {
			er.Status.Phase = accessv1alpha1.PhaseRevoking
			er.Status.Revocation = &accessv1alpha1.Revocation{Reason: accessv1alpha1.RevocationExpired, Attempts: attempts}
		})
		for _, e := range Due(er, DefaultExpiringSoon, t0.Add(40*time.Minute)) {
			if e.Type == RevocationOverdue {
				if _, seen := ids[e.ID]; !seen {
					ids[e.ID] = attempts
				}
			}
		}
	}
	want := map[string]int32{"uid-1/revocationOverdue/1": 1, "uid-1/revocationOverdue/2": 2, "uid-1/revocationOverdue/3": 4, "uid-1/revocationOverdue/4": 8}
	if len(ids) != len(want) {
		t.Fatalf("overdue ids %v, want %v", ids, want)
	}
	for id, first := range want {
		if ids[id] != first {
			t.Errorf("%s first due after %d attempts, want %d", id, ids[id], first)
		}
	}
}

func TestNextDueIsTheReminder(t *testing.T) {
	er := request(active)
	if got := NextDue(er, 5*time.Minute, t0.Add(10*time.Minute)); !got.Equal(t0.Add(26 * time.Minute)) {
		t.Errorf("next due %v, want 5m before expiresAt", got)
	}
	if got := NextDue(er, 5*time.Minute, t0.Add(27*time.Minute)); !got.IsZero() {
		t.Errorf("next due %v after the reminder was due, want none", got)
	}
	short := request(active, func(er *accessv1alpha1.ElevationRequest) { er.Status.ExpiresAt = milliAt(3 * time.Minute) })
	if got := types(Due(short, 5*time.Minute, t0.Add(time.Minute))); !strings.Contains(got, "expiringSoon") {
		t.Errorf("a window shorter than the lead is not reminded at the grant: %q", got)
	}
}

func TestUndeliveredAndRecord(t *testing.T) {
	er := request(active)
	due := Due(er, DefaultExpiringSoon, t0.Add(10*time.Minute))
	delivered := Record(nil, "slack", due[0])
	delivered = Record(delivered, "other", due[1])
	if got := types(Undelivered(due, "slack", delivered)); got != "approved,granted" {
		t.Errorf("undelivered to slack = %q", got)
	}
	for range accessv1alpha1.MaxNotificationRecords + 5 {
		delivered = Record(delivered, "slack", due[2])
	}
	if len(delivered) != accessv1alpha1.MaxNotificationRecords {
		t.Errorf("records grew to %d, want at most %d", len(delivered), accessv1alpha1.MaxNotificationRecords)
	}
}

func TestSlackTextEscapesAndCarriesTheApproveCommand(t *testing.T) {
	text := slackText(Due(request(), DefaultExpiringSoon, t0.Add(time.Second))[0])
	for _, want := range []string{
		"alice asks for admin on payments/prod for alice, for 30m",
		"Why: INC-4711: roll back the &lt;!channel&gt; config",
		"Ticket: INC-4711",
		"Approve: `kubectl elevate approve fix-billing -n payments`",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("slack text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "<!channel>") {
		t.Error("a justification can ping the channel")
	}
}

func TestPayloadSaysWhatEachEventNeeds(t *testing.T) {
	er := request(revoked, func(er *accessv1alpha1.ElevationRequest) {
		er.Status.ResidualAccess = []accessv1alpha1.ResidualAccessPath{{Name: "RoleBinding payments/backdoor"}}
	})
	byType := map[Type]Payload{}
	for _, e := range Due(er, DefaultExpiringSoon, t0.Add(32*time.Minute)) {
		byType[e.Type] = payloadOf(e)
	}
	if p := byType[Requested]; p.ApproveCommand != "kubectl elevate approve fix-billing -n payments" || p.Justification == "" {
		t.Errorf("requested payload %+v", p)
	}
	if p := byType[Granted]; p.ExpiresAt != "2026-12-02T14:31:00Z" || len(p.Approvers) != 1 || p.Approvers[0] != "bob" {
		t.Errorf("granted payload %+v", p)
	}
	if p := byType[Revoked]; p.VerifiedBy != "GET of the request's bindings" {
		t.Errorf("revoked payload %+v", p)
	}
	if p := byType[ResidualAccess]; len(p.Residual) != 1 || p.Residual[0] != "RoleBinding payments/backdoor" {
		t.Errorf("residual payload %+v", p)
	}
}

func TestNewSenderRefusesPlainHTTPAndNeverEchoesTheURL(t *testing.T) {
	secretURL := "http://hooks.example.test/services/T000/B000/XXXXSECRET"
	sink := accessv1alpha1.NotificationSink{Name: "chat", Type: accessv1alpha1.SinkSlack}
	_, err := NewSender(SinkConfig{Sink: sink, URL: secretURL})
	if err == nil || !strings.Contains(err.Error(), "--allow-insecure-notification-urls") {
		t.Fatalf("http URL accepted, or the error does not say how: %v", err)
	}
	if strings.Contains(err.Error(), "XXXXSECRET") {
		t.Errorf("the error names the webhook URL: %v", err)
	}
	s, err := NewSender(SinkConfig{Sink: sink, URL: "http://127.0.0.1:1/services/XXXXSECRET", AllowInsecure: true})
	if err != nil {
		t.Fatalf("allowed http URL refused: %v", err)
	}
	err = s.Send(context.Background(), Due(request(), DefaultExpiringSoon, t0.Add(time.Second))[0])
	if err == nil || strings.Contains(err.Error(), "XXXXSECRET") {
		t.Errorf("a failed post returned %v; want an error without the URL", err)
	}
	if _, err := NewSender(SinkConfig{Sink: sink, URL: "https://x.test", CABundle: []byte("not pem")}); err == nil || !strings.Contains(err.Error(), "ca.crt") {
		t.Errorf("a bad ca.crt is not named: %v", err)
	}
}

func TestMultiTargetRequestsNameEveryTargetAndTheirResidualAccess(t *testing.T) {
	er := request(revoked, func(er *accessv1alpha1.ElevationRequest) {
		er.Spec.Connection, er.Spec.Role = "", ""
		er.Spec.Targets = []accessv1alpha1.Target{{Connection: "prod", Role: "admin"}, {Connection: "pg", Role: "rw"}}
		er.Status.Targets = []accessv1alpha1.TargetStatus{{Connection: "prod", Role: "admin"}, {Connection: "pg", Role: "rw",
			TargetState: accessv1alpha1.TargetState{ResidualAccess: []accessv1alpha1.ResidualAccessPath{{Name: "role backdoor"}}}}}
	})
	events := Due(er, 5*time.Minute, t0.Add(32*time.Minute))
	if got := types(events); !strings.Contains(got, string(ResidualAccess)) {
		t.Fatalf("residual access on one target must be notified; due: %s", got)
	}
	for _, e := range events {
		switch e.Type {
		case Revoked:
			if h := Headline(e); !strings.Contains(h, "prod/admin, pg/rw") {
				t.Errorf("headline %q does not name every target", h)
			}
			if p := payloadOf(e); len(p.Targets) != 2 || p.Connection != "" {
				t.Errorf("payload targets = %v, connection %q", p.Targets, p.Connection)
			}
		case ResidualAccess:
			if p := payloadOf(e); len(p.Residual) != 1 || p.Residual[0] != "pg/rw: role backdoor" {
				t.Errorf("residual = %v, want the path named with its target", p.Residual)
			}
		}
	}
}
