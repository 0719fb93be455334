package controller

import (
	"context"
	"net"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/notify"
	"github.com/elevator-dev/elevator/internal/testenv"
)

// cloudEventsReceiver is a CloudEvents receiver built from the SDK, on a
// loopback port: the consumer side a platform team would run.
type cloudEventsReceiver struct {
	*testenv.CloudEventsReceiver
	url string
}

func startCloudEventsReceiver(ctx context.Context) *cloudEventsReceiver {
	GinkgoHelper()
	ctx, cancel := context.WithCancel(ctx)
	DeferCleanup(cancel)
	r, err := testenv.StartCloudEventsReceiver(ctx, nil)
	Expect(err).NotTo(HaveOccurred())
	return &cloudEventsReceiver{CloudEventsReceiver: r, url: r.URL}
}

// idsOfType counts the received events of a type by id: redeliveries show up
// as a count above 1.
func (r *cloudEventsReceiver) idsOfType(t notify.Type) map[string]int {
	out := map[string]int{}
	for _, e := range r.Events() {
		if e.Type() == notify.CloudEventTypePrefix+string(t) {
			out[e.ID()]++
		}
	}
	return out
}

func (r *cloudEventsReceiver) payload(t notify.Type) notify.Payload {
	var p notify.Payload
	for _, e := range r.Events() {
		if e.Type() == notify.CloudEventTypePrefix+string(t) {
			Expect(e.DataAs(&p)).To(Succeed())
		}
	}
	return p
}

// slackReceiver checks each post is incoming-webhook JSON with a text, and
// keeps the texts; it is down until started.
type slackReceiver struct {
	testenv.ChatReceiver
	addr string
}

func reserveSlackReceiver() *slackReceiver {
	GinkgoHelper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := ln.Addr().String()
	Expect(ln.Close()).To(Succeed())
	return &slackReceiver{addr: addr}
}

func (s *slackReceiver) start() {
	GinkgoHelper()
	_, stop, err := s.Serve(s.addr, nil)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stop)
}

func (s *slackReceiver) received() []string { return s.Texts() }

func createSinkSecret(ctx context.Context, ns, name, url string) {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{accessv1alpha1.LabelCredentials: "true"}},
		StringData: map[string]string{"url": url},
	})).To(Succeed())
}

var _ = Describe("Notifications", func() {
	s := newLifecycleSpec()

	It("tells a CloudEvents and a Slack sink every step once, and catches up with a sink that was down", func() {
		ce := startCloudEventsReceiver(s.ctx)
		slack := reserveSlackReceiver()
		createSinkSecret(s.ctx, s.ns, "ce-sink", ce.url)
		createSinkSecret(s.ctx, s.ns, "slack-sink", "http://"+slack.addr+"/hooks/T000/B000")
		conn := &accessv1alpha1.SaaSConnection{}
		Expect(k8sClient.Get(s.ctx, types.NamespacedName{Namespace: s.ns, Name: "cluster"}, conn)).To(Succeed())
		conn.Spec.Notifications = []accessv1alpha1.NotificationSink{
			{Name: "events", Type: accessv1alpha1.SinkCloudEvents, SecretRef: accessv1alpha1.LocalSecretReference{Name: "ce-sink"}, ExpiringSoon: "3s"},
			{Name: "chat", Type: accessv1alpha1.SinkSlack, SecretRef: accessv1alpha1.LocalSecretReference{Name: "slack-sink"}, ExpiringSoon: "3s"},
		}
		Expect(k8sClient.Update(s.ctx, conn)).To(Succeed())

		s.op = startOperator(operatorOptions{})
		er := createRequest(s.ctx, s.ns, "notify", "edit", "6s")
		waitPhase(s.ctx, er, accessv1alpha1.PhasePending)
		Eventually(func() map[string]int { return ce.idsOfType(notify.Requested) }, eventually, poll).Should(HaveLen(1))
		Expect(ce.payload(notify.Requested).ApproveCommand).To(Equal("kubectl elevate approve notify -n " + s.ns))
		Eventually(func() []string { return warningReasons(s.ctx, er) }, eventually, poll).Should(ContainElement(EventNotificationFailed),
			"the Slack sink is down: a Warning Event says so")
		Expect(eventNote(s.ctx, er, EventNotificationFailed)).NotTo(ContainSubstring("/hooks/T000"), "the webhook URL is a credential")

		slack.start()
		Eventually(slack.received, eventually, poll).Should(ContainElement(ContainSubstring("Approve: `kubectl elevate approve notify -n " + s.ns + "`")))

		approveAsAdmin(s.ctx, er, approver)
		waitPhase(s.ctx, er, accessv1alpha1.PhaseActive)
		waitPhase(s.ctx, er, accessv1alpha1.PhaseRevoked)
		for _, t := range []notify.Type{notify.Requested, notify.Approved, notify.Granted, notify.ExpiringSoon, notify.Revoked} {
			Eventually(func() map[string]int { return ce.idsOfType(t) }, eventually, poll).Should(Equal(map[string]int{string(er.UID) + "/" + string(t): 1}),
				"one %s event, delivered once", t)
		}
		Expect(ce.payload(notify.Granted).ExpiresAt).NotTo(BeEmpty())
		Expect(ce.payload(notify.Revoked).VerifiedBy).To(ContainSubstring("GET of the request's bindings"))
		Eventually(slack.received, eventually, poll).Should(HaveLen(5))
		Expect(strings.Join(slack.received(), "\n")).To(ContainSubstring("was removed and verified gone"))
		Eventually(func() []accessv1alpha1.NotificationRecord { return get(s.ctx, er).Status.Notified }, eventually, poll).Should(HaveLen(10))
		Consistently(func() map[string]int { return ce.idsOfType(notify.Granted) }, time.Second, poll).Should(HaveLen(1))
	})
})
