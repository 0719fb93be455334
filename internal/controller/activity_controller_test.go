package controller

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// scriptedLog is an audit log the test writes to as the subject "acts": the
// controller's side of the activity contract (window, cursor, paging, the
// final record) against the real apiserver. Each source is tested against
// its real server in its provider's suite.
type scriptedLog struct {
	mu      sync.Mutex
	actions []provider.Action
	queries []provider.ActivityQuery
}

func (l *scriptedLog) act(category accessv1alpha1.ActivityCategory, verb, object string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.actions = append(l.actions, provider.Action{At: time.Now(), ID: fmt.Sprintf("a%d", len(l.actions)), Category: category, Action: verb, Object: object})
}

// read is the source's Activity: the subject's actions inside the window
// after the cursor (an index into the log), at most limit.
func (l *scriptedLog) read(q provider.ActivityQuery) provider.ActivityPage {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries = append(l.queries, q)
	next, _ := strconv.Atoi(q.Cursor)
	page := provider.ActivityPage{Through: time.Now()}
	for ; next < len(l.actions); next++ {
		if len(page.Actions) == q.Limit {
			page.More = true
			break
		}
		if a := l.actions[next]; !a.At.Before(q.From) && !a.At.After(q.Until) {
			page.Actions = append(page.Actions, a)
		}
	}
	page.Cursor = strconv.Itoa(next)
	return page
}

type withScriptedLog struct {
	provider.Client
	log *scriptedLog
}

func (c withScriptedLog) Activity(_ context.Context, q provider.ActivityQuery) (provider.ActivityPage, error) {
	return c.log.read(q), nil
}
func (c withScriptedLog) ActivityDelay() time.Duration { return time.Second }
func (c withScriptedLog) ActivitySourceName() string   { return "scripted log" }

var _ = Describe("Activity while elevated", func() {
	s := newLifecycleSpec()
	var log *scriptedLog
	BeforeEach(func() { log = &scriptedLog{} })

	startWithLog := func() *operator {
		return startOperator(operatorOptions{
			activityInterval: 200 * time.Millisecond,
			wrap:             func(c provider.Client) provider.Client { return withScriptedLog{Client: c, log: log} },
		})
	}

	It("records the subject's actions inside the window, flags access changes, and ends Complete", func() {
		log.act(accessv1alpha1.ActivityConfig, "create", "ConfigMap "+s.ns+"/before-the-grant")
		// The window's start is stored to the second: grant in a later one.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		s.op = startWithLog()
		// Long enough that the acts below land inside the window on a loaded machine.
		er := createRequest(s.ctx, s.ns, "acts", "edit", "10s")
		approveAsAdmin(s.ctx, er, approver)
		waitPhase(s.ctx, er, accessv1alpha1.PhaseActive)
		log.act(accessv1alpha1.ActivityConfig, "update", "Deployment "+s.ns+"/billing")
		log.act(accessv1alpha1.ActivityAccess, "create", "RoleBinding "+s.ns+"/backdoor")
		log.act(accessv1alpha1.ActivityData, "update", "Secret "+s.ns+"/db")

		Eventually(func() int64 {
			if a := get(s.ctx, er).Status.Activity; a != nil {
				return a.Counts.Total
			}
			return 0
		}, eventually, poll).Should(BeEquivalentTo(3), "recorded while the window is open")
		got := get(s.ctx, er)
		Expect(got.Status.Activity.State).To(Equal(accessv1alpha1.ActivityCollecting))
		Expect(findCondition(got, accessv1alpha1.ConditionActivityRecorded).Status).To(BeEquivalentTo("Unknown"))

		waitPhase(s.ctx, er, accessv1alpha1.PhaseRevoked)
		log.act(accessv1alpha1.ActivityData, "delete", "Secret "+s.ns+"/after-the-window")
		Eventually(func() *accessv1alpha1.Activity { return get(s.ctx, er).Status.Activity }, eventually, poll).
			Should(HaveField("State", accessv1alpha1.ActivityComplete))

		rec := get(s.ctx, er).Status.Activity
		Expect(rec.Counts).To(Equal(accessv1alpha1.ActivityCounts{Total: 3, Config: 1, Access: 1, Data: 1}))
		Expect(rec.Source).To(Equal("scripted log"))
		Expect(rec.Recent).To(HaveLen(3))
		Expect(rec.Recent[0].Object).To(Equal("Deployment " + s.ns + "/billing"))
		Expect(rec.AccessChanges).To(ConsistOf(HaveField("Object", "RoleBinding "+s.ns+"/backdoor")))
		Expect(rec.FinishedAt).NotTo(BeNil())
		Expect(rec.CollectUntil.Time).To(Equal(get(s.ctx, er).Status.RevokedAt.Add(time.Second)))
		Expect(rec.Message).To(Equal(subject + " made 3 changes while elevated: 1 config, 1 access, 1 data"))
		Expect(findCondition(get(s.ctx, er), accessv1alpha1.ConditionActivityRecorded).Status).To(BeEquivalentTo("True"))
		Eventually(func() string { return eventNote(s.ctx, er, EventActivityRecorded) }, eventually, poll).To(Equal(rec.Message))
		Expect(warningReasons(s.ctx, er)).To(ContainElement(EventAccessChangedWhileElevated))
		Expect(eventNote(s.ctx, er, EventAccessChangedWhileElevated)).To(ContainSubstring("create RoleBinding " + s.ns + "/backdoor"))

		By("reading the window from just before the grant call to revokedAt")
		final := get(s.ctx, er)
		last := log.queries[len(log.queries)-1]
		Expect(last.From).To(BeTemporally("==", final.Status.Grant.StartedAt.Time))
		Expect(last.Until).To(BeTemporally("==", final.Status.RevokedAt.Time))
		Expect(last.Entitlement.Target).NotTo(BeNil(), "the subject is matched as the grant resolved it")
	})

	It("resumes from the stored cursor after a restart, counting nothing twice", func() {
		s.op = startWithLog()
		er := createRequest(s.ctx, s.ns, "restart", "edit", "1h")
		approveAsAdmin(s.ctx, er, approver)
		waitPhase(s.ctx, er, accessv1alpha1.PhaseActive)
		for i := range 3 {
			log.act(accessv1alpha1.ActivityData, "update", fmt.Sprintf("ConfigMap %s/cm-%d", s.ns, i))
		}
		Eventually(func() *accessv1alpha1.Activity { return get(s.ctx, er).Status.Activity }, eventually, poll).
			Should(HaveField("Counts.Total", BeEquivalentTo(3)))
		s.op.stop()
		log.act(accessv1alpha1.ActivityData, "update", "ConfigMap "+s.ns+"/while-down")
		s.op = startWithLog()
		Eventually(func() *accessv1alpha1.Activity { return get(s.ctx, er).Status.Activity }, eventually, poll).
			Should(HaveField("Counts.Total", BeEquivalentTo(4)))
		Consistently(func() int64 { return get(s.ctx, er).Status.Activity.Counts.Total }, 2*time.Second, poll).Should(BeEquivalentTo(4))
	})

	It("says Unavailable, with the reason, for a provider that keeps no audit log", func() {
		s.op = startOperator(operatorOptions{activityInterval: 200 * time.Millisecond})
		er := createRequest(s.ctx, s.ns, "no-log", "edit", "1h")
		approveAsAdmin(s.ctx, er, approver)
		waitPhase(s.ctx, er, accessv1alpha1.PhaseActive)
		Eventually(func() *accessv1alpha1.Activity { return get(s.ctx, er).Status.Activity }, eventually, poll).
			Should(And(HaveField("State", accessv1alpha1.ActivityUnavailable), HaveField("Reason", accessv1alpha1.ReasonNoActivitySource)))
		c := findCondition(get(s.ctx, er), accessv1alpha1.ConditionActivityRecorded)
		Expect(c.Status).To(BeEquivalentTo("False"))
		Expect(c.Message).NotTo(BeEmpty())
	})
})
