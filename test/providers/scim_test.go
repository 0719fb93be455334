package providers

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/scim"
	"github.com/elevator-dev/elevator/internal/provider/scim/scimtest"
)

// scimBackend is one scimmy server (Node.js, a separate process that applies
// PATCH and filters itself) for the whole suite. The operator reaches it
// through a loopback reverse proxy that can be switched to answer 503, as a
// SaaS app's gateway does during an outage; the suite's own reads go to
// scimmy directly with scimtest.Admin, which shares no code with the provider.
type scimBackend struct {
	base     string
	admin    *scimtest.Admin
	token    string
	wrong    string
	proxyURL string
	caPEM    string
	down     atomic.Bool
	seq      atomic.Int32
}

func startSCIM() backend {
	GinkgoHelper()
	b := &scimBackend{token: "tok-" + randomHex(16), wrong: "tok-wrong-" + randomHex(8)}
	b.base = scimtest.StartScimmy(GinkgoTB(), b.token)
	b.admin = scimtest.NewAdmin(b.base, b.token)

	upstream, err := url.Parse(b.base)
	Expect(err).NotTo(HaveOccurred())
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: upstream.Scheme, Host: upstream.Host})
	// The operator's side is https with the test server's own certificate, as
	// every connection must be unless it sets allowInsecureHTTP.
	front := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.down.Load() {
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	DeferCleanup(front.Close)
	b.proxyURL = front.URL + upstream.Path
	b.caPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw}))
	return b
}

func (b *scimBackend) Name() string                        { return scim.Kind }
func (b *scimBackend) Registration() provider.Registration { return scim.Registration() }

func (b *scimBackend) ProviderSpec(secret string) accessv1alpha1.ProviderSpec {
	return accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{
		URL:                  b.proxyURL,
		CABundle:             b.caPEM,
		CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: secret},
		Timeout:              "2s",
	}}
}

func (b *scimBackend) Credentials() map[string][]byte {
	return map[string][]byte{"token": []byte(b.token)}
}

func (b *scimBackend) WrongCredentials() (map[string][]byte, string) {
	return map[string][]byte{"token": []byte(b.wrong)}, b.wrong
}

// NewTarget makes a user, a group named after the role, and a bystander who is
// already a member of the group and must stay.
func (b *scimBackend) NewTarget() target {
	GinkgoHelper()
	n := b.seq.Add(1)
	subject := fmt.Sprintf("alice.%d@example.com", n)
	userID := b.admin.CreateUser(GinkgoTB(), subject)
	bystander := b.admin.CreateUser(GinkgoTB(), fmt.Sprintf("bob.%d@example.com", n))
	group := fmt.Sprintf("billing-admins-%d", n)
	groupID := b.admin.CreateGroup(GinkgoTB(), group, bystander)
	return target{
		Subject:   subject,
		Role:      accessv1alpha1.Role{Name: "elevated", SCIM: &accessv1alpha1.SCIMRole{Group: group}},
		GroupRef:  groupID,
		UserRef:   userID,
		Bystander: bystander,
	}
}

// IsMember reads the group with GET /Groups/{id} straight from scimmy.
func (b *scimBackend) IsMember(t target) bool {
	GinkgoHelper()
	members := b.admin.MemberIDs(GinkgoTB(), t.GroupRef)
	Expect(members).To(ContainElement(t.Bystander), "a member from before the test is never removed")
	return slices.Contains(members, t.UserRef)
}

// AddMember adds the subject with a PATCH sent straight to scimmy.
func (b *scimBackend) AddMember(t target) {
	GinkgoHelper()
	status, body := b.admin.Raw(GinkgoTB(), http.MethodPatch, "/Groups/"+url.PathEscape(t.GroupRef), map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "add", "path": "members", "value": []map[string]string{{"value": t.UserRef}}}},
	})
	Expect(status).To(BeElementOf(http.StatusOK, http.StatusNoContent), "PATCH add member: %s", body)
}

// Break makes the proxy answer every request with 503.
func (b *scimBackend) Break()                    { b.down.Store(true) }
func (b *scimBackend) Repair()                   { b.down.Store(false) }
func (b *scimBackend) readableWhileBroken() bool { return true }

func (b *scimBackend) VerificationMethod(t target) string {
	return "GET /Groups/" + t.GroupRef
}

func (b *scimBackend) AbsentEvidence(target) string { return "is not among them" }

func (b *scimBackend) Secrets() []string { return []string{b.token, b.wrong} }
