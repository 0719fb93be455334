package providers

import (
	"context"
	"net/http"
	"net/url"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider/ldap"
	"github.com/elevator-dev/elevator/internal/provider/scim"
)

// Issue 12's attack 3 through the whole lifecycle: while the grant is live the
// connection is changed (another URL; for LDAP also a userFilter that finds no
// one) and, for SCIM, the user is renamed in the server. The request is still
// revoked from what was granted, verified by reading the group's members, and
// the change is recorded.
var _ = Describe("A connection changed while a grant is live", func() {
	for _, kind := range []string{ldap.Kind, scim.Kind} {
		It("revokes with "+kind+" from the identity stored at grant, and records the change", func() {
			ctx := context.Background()
			b := backends[kind]
			ns := createNamespace(ctx, kind)
			tgt := b.NewTarget()
			createSecret(ctx, ns, b.Credentials())
			createConnection(ctx, ns, b.ProviderSpec(secretName), tgt.Role)
			op := startOperator(b, ns, nil)
			DeferCleanup(op.stop)

			er := createRequest(ctx, ns, "changed", tgt, "4s")
			approveAsAdmin(ctx, er)
			active := waitPhase(ctx, er, accessv1alpha1.PhaseActive)
			stored := active.Status.Grant.Target
			Expect(stored).NotTo(BeNil(), "status.grant.target is stored with the grant")
			sameSubject := stored.Subject.ID == tgt.UserRef || (kind == ldap.Kind && dnEqual(tgt.UserRef)(stored.Subject.ID))
			Expect(sameSubject).To(BeTrue(), "stored subject %q, want %q", stored.Subject.ID, tgt.UserRef)
			Expect(b.IsMember(tgt)).To(BeTrue())

			changeDuringWindow(ctx, ns, b, tgt)

			got := waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
			expectVerifiedRevocation(got, b, tgt)
			Expect(got.Status.Revocation.Detail).To(ContainSubstring("stored identity"))
			Expect(b.IsMember(tgt)).To(BeFalse(), "the membership is gone from the server the grant was made on")
			Eventually(func() []string { return warningReasons(ctx, er) }, eventually, poll).
				Should(ContainElement("ConnectionChanged"))
		})
	}
})

// changeDuringWindow points the connection at a port where nothing listens;
// for LDAP its userFilter also stops finding the subject, and for SCIM the
// user is renamed in the server.
func changeDuringWindow(ctx context.Context, ns string, b backend, tgt target) {
	GinkgoHelper()
	updateConnection(ctx, ns, func(p *accessv1alpha1.ProviderSpec) {
		switch {
		case p.LDAP != nil:
			p.LDAP.URL = "ldap://127.0.0.1:1"
			p.LDAP.UserFilter = "(mail={subject})"
		case p.SCIM != nil:
			p.SCIM.URL = "https://127.0.0.1:1/scim/v2"
		}
	})
	if s, ok := b.(*scimBackend); ok {
		status, body := s.admin.Raw(GinkgoTB(), http.MethodPut, "/Users/"+url.PathEscape(tgt.UserRef), map[string]any{
			"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
			"id":       tgt.UserRef,
			"userName": "renamed-" + tgt.Subject,
		})
		Expect(status).To(Equal(http.StatusOK), "rename the user: %s", body)
	}
}

func updateConnection(ctx context.Context, ns string, change func(*accessv1alpha1.ProviderSpec)) {
	GinkgoHelper()
	Eventually(func() error {
		conn := &accessv1alpha1.SaaSConnection{}
		if err := k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: connectionName}, conn); err != nil {
			return err
		}
		change(&conn.Spec.Provider)
		return k8sClient.Update(ctx, conn)
	}, eventually, poll).Should(Succeed())
}

// A request granted before Elevator stored targets has no status.grant.target:
// it is still revoked and verified, by resolving the subject again, and its
// record says so.
var _ = Describe("A grant stored without a target (made before targets were stored)", func() {
	It("is revoked by resolving the subject again, and the evidence says so", func() {
		ctx := context.Background()
		b := backends[ldap.Kind]
		ns := createNamespace(ctx, b.Name())
		tgt := b.NewTarget()
		createSecret(ctx, ns, b.Credentials())
		createConnection(ctx, ns, b.ProviderSpec(secretName), tgt.Role)
		op := startOperator(b, ns, nil)
		er := createRequest(ctx, ns, "legacy", tgt, "4s")
		approveAsAdmin(ctx, er)
		waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		op.stop()

		Eventually(func() error {
			cur := get(ctx, er)
			cur.Status.Grant.Target = nil
			return k8sClient.Status().Update(ctx, cur)
		}, eventually, poll).Should(Succeed())
		Expect(get(ctx, er).Status.Grant.Target).To(BeNil())

		op = startOperator(b, ns, nil)
		DeferCleanup(op.stop)
		got := waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		expectVerifiedRevocation(got, b, tgt)
		Expect(got.Status.Revocation.Detail).To(HavePrefix("no resolved identity was stored with this grant"))
		Expect(b.IsMember(tgt)).To(BeFalse())
	})
})
