package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/elevator-dev/elevator/internal/notify"
	"github.com/elevator-dev/elevator/internal/testenv"
)

// sinks are the two receivers a platform team would point a connection at,
// over TLS with a CA of the run: a CloudEvents receiver built from the SDK,
// and an HTTP receiver that checks the Slack incoming-webhook payload.
type sinks struct {
	ce     *testenv.CloudEventsReceiver
	chatRx testenv.ChatReceiver
	caFile string
	ceURL  string
	chat   string
}

func startSinks(ctx context.Context) *sinks {
	GinkgoHelper()
	ca, err := testenv.NewCA("e2e sinks")
	Expect(err).NotTo(HaveOccurred())
	certPEM, keyPEM, err := ca.IssueServer()
	Expect(err).NotTo(HaveOccurred())
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	Expect(err).NotTo(HaveOccurred())
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s := &sinks{caFile: filepath.Join(workDir, "sinks-ca.crt")}
	Expect(os.WriteFile(s.caFile, ca.CertPEM, 0o600)).To(Succeed())

	ctx, cancel := context.WithCancel(ctx)
	DeferCleanup(cancel)
	s.ce, err = testenv.StartCloudEventsReceiver(ctx, tlsConfig)
	Expect(err).NotTo(HaveOccurred())
	s.ceURL = s.ce.URL
	base, stop, err := s.chatRx.Serve("", tlsConfig)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stop)
	s.chat = base + "/hooks/T000/B000"
	return s
}

// ofRequest lists the CloudEvent types received for a request, in order.
func (s *sinks) ofRequest(name string) []string {
	var out []string
	for _, e := range s.ce.Events() {
		if e.Subject() == name {
			out = append(out, strings.TrimPrefix(e.Type(), notify.CloudEventTypePrefix))
		}
	}
	return out
}

// event is the first CloudEvent of a type for a request, if any.
func (s *sinks) event(name string, t notify.Type) (cloudevents.Event, bool) {
	for _, e := range s.ce.Events() {
		if e.Subject() == name && e.Type() == notify.CloudEventTypePrefix+string(t) {
			return e, true
		}
	}
	return cloudevents.Event{}, false
}

func (s *sinks) payload(name string, t notify.Type) notify.Payload {
	var p notify.Payload
	if e, ok := s.event(name, t); ok {
		Expect(e.DataAs(&p)).To(Succeed())
	}
	return p
}

// firstEvent is the first CloudEvent of a type for a request, as JSON.
func (s *sinks) firstEvent(name string, t notify.Type) string {
	e, ok := s.event(name, t)
	if !ok {
		return ""
	}
	b, err := json.MarshalIndent(e, "", "  ")
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

func (s *sinks) chatTexts() string { return strings.Join(s.chatRx.Texts(), "\n---\n") }

// sinkSecret creates a labelled Secret with the sink's URL and CA.
func sinkSecret(name, url, caFile string) {
	mustKubectl("create", "secret", "generic", name, "-n", ns, "--from-literal=url="+url, "--from-file=ca.crt="+caFile)
	mustKubectl("label", "secret", name, "-n", ns, "elevator.dev/credentials=true")
}

const notifyConnection = `apiVersion: access.elevator.dev/v1alpha1
kind: SaaSConnection
metadata:
  name: e2e-notify
  namespace: e2e
spec:
  provider:
    kubernetes: {}
  maxDuration: 1h
  roles:
  - name: ns-admin
    maxDuration: 10m
    requiredApprovals: 1
    kubernetes:
      clusterRole: admin
      namespaces: [e2e-plugin]
  notifications:
  - name: events
    type: CloudEvents
    secretRef: {name: e2e-ce-sink}
    expiringSoon: 5s
  - name: chat
    type: Slack
    secretRef: {name: e2e-chat-sink}
    expiringSoon: 5s
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: e2e-notify-approver
  namespace: e2e
rules:
- apiGroups: [access.elevator.dev]
  resources: [saasconnections]
  resourceNames: [e2e-notify]
  verbs: [approve]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: e2e-notify-approvers
  namespace: e2e
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: e2e-notify-approver
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: abe
`

var _ = Describe("notifications in the shipped configuration", func() {
	It("tells the sinks each step, and the approver's command from the notification approves the request", func(ctx SpecContext) {
		applyPluginFixtures(ctx)
		s := startSinks(ctx)
		sinkSecret("e2e-ce-sink", s.ceURL, s.caFile)
		sinkSecret("e2e-chat-sink", s.chat, s.caFile)
		DeferCleanup(func() {
			_, _, _ = kubectl("delete", "secret", "-n", ns, "e2e-ce-sink", "e2e-chat-sink", "--ignore-not-found")
		})
		manifest := filepath.Join(workDir, "notify-connection.yaml")
		Expect(os.WriteFile(manifest, []byte(notifyConnection), 0o600)).To(Succeed())
		mustKubectl("apply", "-f", manifest)
		DeferCleanup(func() { _, _, _ = kubectl("delete", "-f", manifest, "--ignore-not-found") })
		mustKubectl("wait", "--for=condition=Ready", "--timeout=60s", "-n", ns, "saasconnection/e2e-notify")

		name := createdName(mustElevate(requester, "request", "e2e-notify/ns-admin", "--for", "12s", "--reason", "e2e: notifications", "--ticket", "NOTE-1"))
		Eventually(func() []string { return s.ofRequest(name) }).WithTimeout(20 * time.Second).Should(Equal([]string{"requested"}))
		requested := s.payload(name, notify.Requested)
		Expect(requested.Justification).To(Equal("e2e: notifications"))
		Expect(requested.Ticket).To(Equal("NOTE-1"))
		Expect(requested.RequestedBy).To(Equal(requester))

		By("running, as the approver, the command the notification gave")
		command := strings.Fields(requested.ApproveCommand)
		Expect(command).To(Equal([]string{"kubectl", "elevate", "approve", name, "-n", ns}))
		mustElevate(approver, command[2:4]...)
		Eventually(phaseOf(name)).WithTimeout(15 * time.Second).Should(Equal("Active"))
		Eventually(phaseOf(name)).WithTimeout(30 * time.Second).Should(Equal("Revoked"))

		Eventually(func() []string { return s.ofRequest(name) }).WithTimeout(20 * time.Second).
			Should(Equal([]string{"requested", "approved", "granted", "expiringSoon", "revoked"}))
		Expect(s.payload(name, notify.Approved).Approvers).To(Equal([]string{approver}))
		Expect(s.payload(name, notify.Revoked).VerifiedBy).To(Equal(field("elevationrequest/"+name, ns, ".status.revocation.method")))
		Eventually(s.chatTexts).WithTimeout(20 * time.Second).Should(And(
			ContainSubstring("Approve: `kubectl elevate approve "+name+" -n "+ns+"`"),
			ContainSubstring("now holds ns-admin on "+ns+"/e2e-notify until"),
			ContainSubstring("ends at"),
			ContainSubstring("was removed and verified gone")))
		Expect(mustElevate(requester, "status", name)).To(ContainSubstring("Verified at:"))
		AddReportEntry("the granted CloudEvent as received", s.firstEvent(name, notify.Granted))
		AddReportEntry("the Slack messages as received", s.chatTexts())
		Consistently(func() []string { return s.ofRequest(name) }).WithTimeout(2*time.Second).Should(HaveLen(5), "each delivered once")
	})
})
