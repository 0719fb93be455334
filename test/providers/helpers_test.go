package providers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/records"
	"github.com/elevator-dev/elevator/internal/testenv"
)

const (
	connectionName = "target"
	secretName     = "target-credentials"
	approver       = "bob@example.com"
)

func createNamespace(ctx context.Context, kind string) string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "providers-" + kind + "-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

func createSecret(ctx context.Context, ns string, data map[string][]byte) {
	GinkgoHelper()
	createNamedSecret(ctx, ns, secretName, data)
}

// createNamedSecret makes a Secret labelled as credentials the operator may read.
func createNamedSecret(ctx context.Context, ns, name string, data map[string][]byte) {
	GinkgoHelper()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: ns, Labels: map[string]string{accessv1alpha1.LabelCredentials: "true"},
	}, Data: data}
	Expect(k8sClient.Create(ctx, secret)).To(Succeed())
}

// replaceSecretData rewrites the credentials Secret, as a person fixing or
// rotating a credential would.
func replaceSecretData(ctx context.Context, ns string, data map[string][]byte) {
	GinkgoHelper()
	secret := &corev1.Secret{}
	Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: secretName}, secret)).To(Succeed())
	secret.Data = data
	Expect(k8sClient.Update(ctx, secret)).To(Succeed())
}

// createConnection makes the SaaSConnection with one role, "elevated", that
// needs one approval.
func createConnection(ctx context.Context, ns string, spec accessv1alpha1.ProviderSpec, role accessv1alpha1.Role) {
	GinkgoHelper()
	role.RequiredApprovals = ptr.To[int32](1)
	conn := &accessv1alpha1.SaaSConnection{
		ObjectMeta: metav1.ObjectMeta{Name: connectionName, Namespace: ns},
		Spec: accessv1alpha1.SaaSConnectionSpec{
			Provider:    spec,
			MaxDuration: "1h",
			Roles:       []accessv1alpha1.Role{role},
		},
	}
	Expect(k8sClient.Create(ctx, conn)).To(Succeed())
}

func createRequest(ctx context.Context, ns, name string, t target, duration string) *accessv1alpha1.ElevationRequest {
	GinkgoHelper()
	er := &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: accessv1alpha1.ElevationRequestSpec{
			Subject: t.Subject, Connection: connectionName, Role: t.Role.Name, Duration: duration,
			Justification: "INC-4711: roll back the billing config",
		},
	}
	Expect(k8sClient.Create(ctx, er)).To(Succeed())
	return er
}

func key(obj client.Object) types.NamespacedName {
	return types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

func get(ctx context.Context, er *accessv1alpha1.ElevationRequest) *accessv1alpha1.ElevationRequest {
	GinkgoHelper()
	got := &accessv1alpha1.ElevationRequest{}
	Expect(k8sClient.Get(ctx, key(er), got)).To(Succeed())
	return got
}

func waitPhase(ctx context.Context, er *accessv1alpha1.ElevationRequest, phase accessv1alpha1.Phase) *accessv1alpha1.ElevationRequest {
	GinkgoHelper()
	var got *accessv1alpha1.ElevationRequest
	Eventually(func() accessv1alpha1.Phase {
		got = get(ctx, er)
		return got.Status.Phase
	}, eventually, poll).Should(Equal(phase), func() string { return fmt.Sprintf("status of %s: %+v", er.Name, got.Status) })
	return got
}

// approveAsAdmin writes the approvals record, signed, as the admission webhook
// would; this suite runs without the webhook, as the admin.
func approveAsAdmin(ctx context.Context, er *accessv1alpha1.ElevationRequest) {
	GinkgoHelper()
	approve := func(rec *records.Records) {
		rec.Approvals = []accessv1alpha1.ApprovalRecord{{User: approver, At: metav1.Now(), Comment: "ok"}}
	}
	Eventually(func() error {
		return testenv.UpdateSignedRecords(ctx, k8sClient, recordSigner(), client.ObjectKeyFromObject(er), approve)
	}, eventually, poll).Should(Succeed())
}

func condition(conds []metav1.Condition, condType string) metav1.Condition {
	if c := meta.FindStatusCondition(conds, condType); c != nil {
		return *c
	}
	return metav1.Condition{Type: condType, Status: "<missing>"}
}

// expectVerifiedRevocation checks that the request ended Revoked after a fresh
// read of the server showed the membership gone, and that its record says so.
func expectVerifiedRevocation(got *accessv1alpha1.ElevationRequest, b backend, t target) {
	GinkgoHelper()
	Expect(got.Status.Phase).To(Equal(accessv1alpha1.PhaseRevoked))
	rev := got.Status.Revocation
	Expect(rev).NotTo(BeNil())
	Expect(rev.Reason).To(Equal(accessv1alpha1.RevocationExpired))
	Expect(rev.VerifiedAt).NotTo(BeNil(), "nothing is marked revoked that was not verified")
	// verifiedAt is stored to the second, expiresAt to the millisecond; this
	// suite's operator has no expiry lead.
	Expect(rev.VerifiedAt.Time).NotTo(BeTemporally("<", got.Status.ExpiresAt.Truncate(time.Second)), "verified at or after expiry")
	Expect(got.Status.RevokedAt).NotTo(BeNil())
	Expect(rev.RetainedBy).To(BeEmpty())
	Expect(rev.Method).To(ContainSubstring(b.VerificationMethod(t)))
	Expect(rev.Detail).To(ContainSubstring(b.AbsentEvidence(t)))
	cond := condition(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)
	Expect(cond.Status).To(Equal(metav1.ConditionTrue))
	Expect(cond.Reason).To(Equal("Verified"))
	Expect(cond.Message).To(Equal(rev.Method + ": " + rev.Detail))
}

func eventsFor(ctx context.Context, ns, name string) []eventsv1.Event {
	GinkgoHelper()
	var list eventsv1.EventList
	Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Regarding.Kind == "ElevationRequest" {
			out = append(out, e)
		}
	}
	return out
}

func eventReasons(ctx context.Context, er *accessv1alpha1.ElevationRequest) []string {
	var out []string
	for _, e := range eventsFor(ctx, er.Namespace, er.Name) {
		out = append(out, e.Reason)
	}
	return out
}

func warningReasons(ctx context.Context, er *accessv1alpha1.ElevationRequest) []string {
	var out []string
	for _, e := range eventsFor(ctx, er.Namespace, er.Name) {
		if strings.EqualFold(e.Type, corev1.EventTypeWarning) {
			out = append(out, e.Reason)
		}
	}
	return out
}

// expectNoCredentialIn fails the spec, without printing the credential, when
// any of the namespace's Events, request and connection statuses, or the
// operators' log holds one of secrets.
func expectNoCredentialIn(ctx context.Context, ns string, secrets []string) {
	GinkgoHelper()
	var events eventsv1.EventList
	Expect(k8sClient.List(ctx, &events, client.InNamespace(ns))).To(Succeed())
	var coreEvents corev1.EventList
	Expect(k8sClient.List(ctx, &coreEvents, client.InNamespace(ns))).To(Succeed())
	var requests accessv1alpha1.ElevationRequestList
	Expect(k8sClient.List(ctx, &requests, client.InNamespace(ns))).To(Succeed())
	var conns accessv1alpha1.SaaSConnectionList
	Expect(k8sClient.List(ctx, &conns, client.InNamespace(ns))).To(Succeed())
	places := map[string]string{"the operators' log": operatorLog.String()}
	places["Events"] = mustJSON(events.Items) + mustJSON(coreEvents.Items)
	for _, r := range requests.Items {
		places["status of ElevationRequest "+r.Name] = mustJSON(r.Status)
	}
	for _, c := range conns.Items {
		places["status of SaaSConnection "+c.Name] = mustJSON(c.Status)
	}
	for where, text := range places {
		for i, s := range secrets {
			Expect(strings.Contains(text, s)).To(BeFalse(), "credential #%d (not printed) appears in %s", i, where)
		}
	}
}

func mustJSON(v any) string {
	GinkgoHelper()
	raw, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return string(raw)
}

func connectionReady(ctx context.Context, ns string) metav1.Condition {
	GinkgoHelper()
	conn := &accessv1alpha1.SaaSConnection{}
	Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: connectionName}, conn)).To(Succeed())
	return condition(conn.Status.Conditions, accessv1alpha1.ConditionReady)
}

// touchConnection changes an annotation of the connection, so that its
// controller runs the health check now rather than at its next interval.
func touchConnection(ctx context.Context, ns string) {
	GinkgoHelper()
	Eventually(func() error {
		conn := &accessv1alpha1.SaaSConnection{}
		if err := k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: connectionName}, conn); err != nil {
			return err
		}
		if conn.Annotations == nil {
			conn.Annotations = map[string]string{}
		}
		conn.Annotations["test.elevator.dev/recheck"] = time.Now().Format(time.RFC3339Nano)
		return k8sClient.Update(ctx, conn)
	}, eventually, poll).Should(Succeed())
}
