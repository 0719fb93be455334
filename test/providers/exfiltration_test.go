package providers

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider/endpoint"
	"github.com/elevator-dev/elevator/internal/provider/ldap"
	"github.com/elevator-dev/elevator/internal/provider/postgres"
	"github.com/elevator-dev/elevator/internal/provider/scim"
)

// listener is an HTTP server the test controls, standing in for an endpoint
// a connection author points a connection at. It answers nothing useful and
// counts what reaches it.
type listener struct {
	srv      *httptest.Server
	requests atomic.Int32
	// sawAuthorization counts requests that carried any Authorization header.
	sawAuthorization atomic.Int32
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.requests.Add(1)
	if r.Header.Get("Authorization") != "" {
		l.sawAuthorization.Add(1)
	}
	w.WriteHeader(http.StatusOK)
}

func startListener(tls bool) *listener {
	GinkgoHelper()
	l := &listener{}
	l.srv = httptest.NewUnstartedServer(l)
	if tls {
		l.srv.StartTLS()
	} else {
		l.srv.Start()
	}
	DeferCleanup(l.srv.Close)
	return l
}

func (l *listener) caPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.srv.Certificate().Raw}))
}

// expectUntouched fails unless the listener received no request at all, for a
// while: nothing, the token included, ever went to it.
func (l *listener) expectUntouched() {
	GinkgoHelper()
	Consistently(func() int32 { return l.requests.Load() }, 2*time.Second, poll).Should(BeZero(), "requests the listener received")
	Expect(l.sawAuthorization.Load()).To(BeZero(), "requests carrying a credential")
}

var scimRole = accessv1alpha1.Role{Name: "elevated", SCIM: &accessv1alpha1.SCIMRole{Group: "billing-admins"}}

func createLabelledSecret(ctx context.Context, ns, name string, typ corev1.SecretType, labels, annotations map[string]string, data map[string][]byte) {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: annotations},
		Type:       typ, Data: data,
	})).To(Succeed())
}

func waitReady(ctx context.Context, ns string, status metav1.ConditionStatus) metav1.Condition {
	GinkgoHelper()
	var cond metav1.Condition
	Eventually(func() metav1.ConditionStatus { cond = connectionReady(ctx, ns); return cond.Status }, eventually, poll).
		Should(Equal(status), func() string { return "Ready: " + cond.Reason + ": " + cond.Message })
	return cond
}

// Attack 6 of issue 12: whoever may write a SaaSConnection points it at an
// endpoint they control and at a Secret they could not read themselves.
var _ = Describe("A connection author cannot exfiltrate credentials", func() {
	var (
		ctx context.Context
		b   backend
		ns  string
		op  *operator
	)
	credentialsLabel := map[string]string{accessv1alpha1.LabelCredentials: "true"}

	BeforeEach(func() {
		ctx = context.Background()
		b = backends[scim.Kind]
		ns = createNamespace(ctx, "exfil")
	})
	AfterEach(func() {
		if op != nil {
			op.stop()
			op = nil
		}
	})

	It("refuses a ServiceAccount token Secret, even labelled, and sends nothing to a plain-http listener", func() {
		saToken := "sa-token-" + randomHex(16)
		createLabelledSecret(ctx, ns, "default-token", corev1.SecretTypeServiceAccountToken, credentialsLabel,
			map[string]string{corev1.ServiceAccountNameKey: "default"}, map[string][]byte{"token": []byte(saToken)})
		l := startListener(false)
		spec := accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{
			URL: l.srv.URL + "/scim/v2", CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "default-token"},
		}}

		By("the apiserver refusing plain http without allowInsecureHTTP")
		err := k8sClient.Create(ctx, &accessv1alpha1.SaaSConnection{
			ObjectMeta: metav1.ObjectMeta{Name: connectionName, Namespace: ns},
			Spec:       accessv1alpha1.SaaSConnectionSpec{Provider: spec, MaxDuration: "1h", Roles: []accessv1alpha1.Role{scimRole}},
		})
		Expect(err).To(MatchError(ContainSubstring("spec.provider.scim.url must start with https://")))

		By("the operator refusing the ServiceAccount token when the author opts into http")
		spec.SCIM.AllowInsecureHTTP = true
		createConnection(ctx, ns, spec, scimRole)
		op = startOperator(b, ns, nil)
		cond := waitReady(ctx, ns, metav1.ConditionFalse)
		Expect(cond.Reason).To(Equal("InvalidConfiguration"))
		Expect(cond.Message).To(And(ContainSubstring(`Secret "default-token"`), ContainSubstring("is a ServiceAccount token")))

		er := createRequest(ctx, ns, "exfil", target{Subject: "mallory@example.com", Role: scimRole}, "10m")
		approveAsAdmin(ctx, er)
		l.expectUntouched()
		Expect(get(ctx, er).Status.Phase).NotTo(Equal(accessv1alpha1.PhaseActive))
		expectNoCredentialIn(ctx, ns, []string{saToken})
	})

	It("refuses a Secret without the opt-in label, naming the label, and uses it once labelled", func() {
		createLabelledSecret(ctx, ns, secretName, corev1.SecretTypeOpaque, nil, nil, b.Credentials())
		createConnection(ctx, ns, b.ProviderSpec(secretName), scimRole)
		op = startOperator(b, ns, nil)

		cond := waitReady(ctx, ns, metav1.ConditionFalse)
		Expect(cond.Reason).To(Equal("InvalidConfiguration"))
		Expect(cond.Message).To(And(ContainSubstring(`Secret "`+secretName+`"`), ContainSubstring(`does not carry the label elevator.dev/credentials: "true"`)))
		expectNoCredentialIn(ctx, ns, b.Secrets())

		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: secretName}, secret)).To(Succeed())
		secret.Labels = credentialsLabel
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())
		cond = waitReady(ctx, ns, metav1.ConditionTrue)
		Expect(cond.Reason).To(Equal("Healthy"), "labelling the Secret re-checks the connection: %s", cond.Message)
	})

	It("never contacts an endpoint outside --allowed-endpoint-hosts, and no grant is made", func() {
		createSecret(ctx, ns, b.Credentials())
		l := startListener(true)
		createConnection(ctx, ns, accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{
			URL: l.srv.URL + "/scim/v2", CABundle: l.caPEM(), CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: secretName},
		}}, scimRole)
		hosts, err := endpoint.ParseAllowlist("scim.example.com,*.corp.example")
		Expect(err).NotTo(HaveOccurred())
		op = startOperatorAllowing(b, ns, nil, hosts)

		cond := waitReady(ctx, ns, metav1.ConditionFalse)
		Expect(cond.Reason).To(Equal("EndpointNotAllowed"))
		Expect(cond.Message).To(And(ContainSubstring(`host "127.0.0.1"`), ContainSubstring("--allowed-endpoint-hosts (scim.example.com,*.corp.example)")))

		er := createRequest(ctx, ns, "elsewhere", target{Subject: "mallory@example.com", Role: scimRole}, "10m")
		approveAsAdmin(ctx, er)
		l.expectUntouched()
		Expect(get(ctx, er).Status.Phase).NotTo(Equal(accessv1alpha1.PhaseActive))
		expectNoCredentialIn(ctx, ns, b.Secrets())
	})

	It("reports Ready with reason Insecure for a connection that opted into plain http", func() {
		createSecret(ctx, ns, b.Credentials())
		scimmy := b.(*scimBackend)
		Expect(strings.HasPrefix(scimmy.base, "http://")).To(BeTrue(), "scimmy speaks plain http: %s", scimmy.base)
		createConnection(ctx, ns, accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{
			URL: scimmy.base, AllowInsecureHTTP: true, CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: secretName},
		}}, scimRole)
		op = startOperator(b, ns, nil)

		cond := waitReady(ctx, ns, metav1.ConditionTrue)
		Expect(cond.Reason).To(Equal("Insecure"))
		Expect(cond.Message).To(ContainSubstring("spec.provider.scim.url is plain http (allowInsecureHTTP)"))
		expectNoCredentialIn(ctx, ns, b.Secrets())
	})
})

var _ = Describe("TLS is verified by default", func() {
	var (
		ctx context.Context
		ns  string
		op  *operator
	)
	BeforeEach(func() { ctx = context.Background() })
	AfterEach(func() {
		if op != nil {
			op.stop()
			op = nil
		}
	})

	It("fails the PostgreSQL health check under the default sslMode when the server's CA is not trusted", func() {
		b := backends[postgres.Kind]
		ns = createNamespace(ctx, "pg-tls")
		createSecret(ctx, ns, b.Credentials())
		spec := b.ProviderSpec(secretName)
		spec.Postgres.SSLMode, spec.Postgres.CABundle = "", ""
		createConnection(ctx, ns, spec, b.NewTarget().Role)
		conn := &accessv1alpha1.SaaSConnection{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: connectionName}, conn)).To(Succeed())
		Expect(conn.Spec.Provider.Postgres.SSLMode).To(Equal("verify-full"), "the apiserver's default")
		op = startOperator(b, ns, nil)

		cond := waitReady(ctx, ns, metav1.ConditionFalse)
		Expect(cond.Message).To(And(ContainSubstring("TLS verification of the server"), ContainSubstring("sslMode verify-full"), ContainSubstring("unknown authority")))
		expectNoCredentialIn(ctx, ns, b.Secrets())
	})

	It("reports Ready with reason Insecure for an LDAP connection that opted into plain ldap://", func() {
		b := backends[ldap.Kind]
		ns = createNamespace(ctx, "ldap-plain")
		createSecret(ctx, ns, b.Credentials())
		spec := b.ProviderSpec(secretName)
		spec.LDAP.StartTLS, spec.LDAP.CABundle = false, ""
		err := k8sClient.Create(ctx, &accessv1alpha1.SaaSConnection{
			ObjectMeta: metav1.ObjectMeta{Name: connectionName, Namespace: ns},
			Spec:       accessv1alpha1.SaaSConnectionSpec{Provider: spec, MaxDuration: "1h", Roles: []accessv1alpha1.Role{b.NewTarget().Role}},
		})
		Expect(err).To(MatchError(ContainSubstring("spec.provider.ldap.url must be ldaps:// or use startTLS: true")))

		spec.LDAP.AllowInsecure = true
		createConnection(ctx, ns, spec, b.NewTarget().Role)
		op = startOperator(b, ns, nil)
		cond := waitReady(ctx, ns, metav1.ConditionTrue)
		Expect(cond.Reason).To(Equal("Insecure"))
		Expect(cond.Message).To(ContainSubstring("plain ldap:// without startTLS (allowInsecure)"))
		expectNoCredentialIn(ctx, ns, b.Secrets())
	})
})
