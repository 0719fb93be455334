package providers

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/controller"
	"github.com/elevator-dev/elevator/internal/provider/ldap"
	"github.com/elevator-dev/elevator/internal/provider/postgres"
	"github.com/elevator-dev/elevator/internal/provider/scim"
)

// activityBackend is a backend whose server keeps the audit log its
// provider's activity source reads, and on which the suite can act as the
// subject and as someone else.
type activityBackend interface {
	backend
	// EnableActivity sets what spec needs for the provider to read the log,
	// creating in ns any Secret that takes.
	EnableActivity(ctx context.Context, ns string, spec *accessv1alpha1.ProviderSpec)
	// ActBeforeGrant has the subject, as itself, write on the server before
	// it is elevated (setting up what it needs first).
	ActBeforeGrant(t target)
	// ActWhileElevated has the subject write on the server through the
	// elevation, and returns what the record must list, oldest first.
	ActWhileElevated(t target) []wantActivity
	// ActAsOther has someone else write on the server during the window.
	ActAsOther(t target)
	// ActAfterRevocation has the subject write on the server once the window
	// has closed (revokedAt, stored to the second, is in the past), while its
	// record is still being collected.
	ActAfterRevocation(t target)
}

// wantActivity is one action the record must hold.
type wantActivity struct {
	Category accessv1alpha1.ActivityCategory
	Action   string
	Object   string
	// Residual is true when the action makes a path the provider's Check
	// reports as residual access after revocation.
	Residual bool
}

// activityDuration is the window of the activity specs: long enough for the
// subject to act after Active, short enough to keep the suite quick.
const activityDuration = "6s"

var _ = Describe("Activity during the window through a shared provider", func() {
	for _, kind := range []string{scim.Kind, ldap.Kind, postgres.Kind} {
		Describe("with the "+kind+" provider and a real server", func() { activitySpecs(kind) })
	}

	It("ends a real request Unavailable when the connection names no activity source", func() {
		ctx := context.Background()
		b := backends[scim.Kind]
		ns := createNamespace(ctx, "noactivity")
		tgt := b.NewTarget()
		createSecret(ctx, ns, b.Credentials())
		createConnection(ctx, ns, b.ProviderSpec(secretName), tgt.Role)
		op := startOperator(b, ns, nil)
		DeferCleanup(op.stop)

		er := createRequest(ctx, ns, "unrecorded", tgt, "2s")
		approveAsAdmin(ctx, er)
		waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		got := waitActivityFinished(ctx, er)
		rec := got.Status.Activity
		Expect(rec.State).To(Equal(accessv1alpha1.ActivityUnavailable))
		Expect(rec.Reason).To(Equal(accessv1alpha1.ReasonNoActivitySource))
		Expect(rec.Message).To(ContainSubstring("sets no spec.provider.scim.activity source"))
		Expect(rec.Counts).To(Equal(accessv1alpha1.ActivityCounts{}))
		cond := condition(got.Status.Conditions, accessv1alpha1.ConditionActivityRecorded)
		Expect(cond.Status).To(Equal(metav1.ConditionFalse))
		Expect(cond.Reason).To(Equal(accessv1alpha1.ReasonNoActivitySource))
		Expect(eventReasons(ctx, er)).NotTo(ContainElement(controller.EventActivityRecorded), "no summary of a record that was never kept")
	})
})

// activitySpecs run once per provider: a real request, a subject that really
// acts on the server before, during and after its window, and someone else
// acting in it.
func activitySpecs(kind string) {
	It("records what the subject did while elevated on the request", func() {
		ctx := context.Background()
		b, ok := backends[kind].(activityBackend)
		Expect(ok).To(BeTrue(), "the suite's %s server keeps no activity log the suite can act on", kind)
		ns := createNamespace(ctx, kind)
		tgt := b.NewTarget()
		createSecret(ctx, ns, b.Credentials())
		spec := b.ProviderSpec(secretName)
		b.EnableActivity(ctx, ns, &spec)
		createConnection(ctx, ns, spec, tgt.Role)
		op := startOperator(b, ns, nil)
		DeferCleanup(func() {
			op.stop()
			expectNoCredentialIn(ctx, ns, b.Secrets())
		})

		er := createRequest(ctx, ns, "acting", tgt, activityDuration)
		waitPhase(ctx, er, accessv1alpha1.PhasePending)
		b.ActBeforeGrant(tgt)
		// The window's bounds are stored to the second: what came before
		// must be in an earlier one.
		nextSecond()
		approveAsAdmin(ctx, er)
		active := waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		want := b.ActWhileElevated(tgt)
		b.ActAsOther(tgt)
		Expect(time.Now()).To(BeTemporally("<", active.Status.ExpiresAt.Time), "the acts ended inside the window")
		revoked := waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		expectVerifiedRevocation(revoked, b, tgt)
		b.ActAfterRevocation(tgt)

		got := waitActivityFinished(ctx, er)
		expectRecorded(got, want)
		expectResidualLinked(got, want)
		cond := condition(got.Status.Conditions, accessv1alpha1.ConditionActivityRecorded)
		Expect(cond.Status).To(Equal(metav1.ConditionTrue), "condition: %+v", cond)
		Expect(cond.Reason).To(Equal(accessv1alpha1.ReasonActivityComplete))
		Expect(cond.Message).To(ContainSubstring(tgt.Subject))
		expectAccessChangeEvents(ctx, er, want)
		Eventually(func() []string { return eventReasons(ctx, er) }, eventually, poll).
			Should(ContainElement(controller.EventActivityRecorded), "the summary of a final record is an Event")
		AddReportEntry(kind+": revocation to finished activity record", got.Status.Activity.FinishedAt.Sub(got.Status.RevokedAt.Time).String())
	})
}

// waitActivityFinished waits until the request's activity record is final.
func waitActivityFinished(ctx context.Context, er *accessv1alpha1.ElevationRequest) *accessv1alpha1.ElevationRequest {
	GinkgoHelper()
	var got *accessv1alpha1.ElevationRequest
	Eventually(func(g Gomega) {
		got = get(ctx, er)
		g.Expect(got.Status.Activity).NotTo(BeNil())
		g.Expect(got.Status.Activity.FinishedAt).NotTo(BeNil())
	}, eventually, poll).Should(Succeed(), func() string { return fmt.Sprintf("activity of %s: %s", er.Name, mustJSON(got.Status.Activity)) })
	return got
}

// expectRecorded checks the record holds exactly the wanted actions: none by
// anyone else and none from outside the window.
func expectRecorded(got *accessv1alpha1.ElevationRequest, want []wantActivity) {
	GinkgoHelper()
	rec := got.Status.Activity
	Expect(rec.State).To(Equal(accessv1alpha1.ActivityComplete), "record: %s", mustJSON(rec))
	Expect(rec.Reason).To(Equal(accessv1alpha1.ReasonActivityComplete))
	Expect(actionsOf(rec.Recent)).To(Equal(withoutResidual(want)), "recent actions, oldest first: the subject's in the window, nobody else's")
	Expect(rec.Counts).To(Equal(countsOf(want)))
	changes := []wantActivity{}
	for _, w := range withoutResidual(want) {
		if w.Category == accessv1alpha1.ActivityAccess {
			changes = append(changes, w)
		}
	}
	Expect(actionsOf(rec.AccessChanges)).To(Equal(changes))
	for _, a := range rec.Recent {
		Expect(a.At.Time).To(BeTemporally(">=", got.Status.Grant.StartedAt.Truncate(time.Second)), "action %s before the window", a.ID)
		Expect(a.At.Time).To(BeTemporally("<", got.Status.RevokedAt.Add(time.Second)), "action %s after the window", a.ID)
		Expect(a.ID).NotTo(BeEmpty())
	}
	Expect(rec.CollectedThrough.Time).NotTo(BeTemporally("<", got.Status.RevokedAt.Time))
}

// actionsOf is what the spec compares of recorded actions; Residual is
// checked by expectResidualLinked.
func actionsOf(recorded []accessv1alpha1.ActivityAction) []wantActivity {
	out := []wantActivity{}
	for _, a := range recorded {
		Expect(a.Denied).To(BeFalse(), "action %+v: the subject was refused nothing", a)
		out = append(out, wantActivity{Category: a.Category, Action: a.Action, Object: a.Object})
	}
	return out
}

// withoutResidual is want as actionsOf returns it.
func withoutResidual(want []wantActivity) []wantActivity {
	out := make([]wantActivity, 0, len(want))
	for _, w := range want {
		w.Residual = false
		out = append(out, w)
	}
	return out
}

func countsOf(want []wantActivity) accessv1alpha1.ActivityCounts {
	var c accessv1alpha1.ActivityCounts
	for _, w := range want {
		c.Total++
		switch w.Category {
		case accessv1alpha1.ActivityConfig:
			c.Config++
		case accessv1alpha1.ActivityAccess:
			c.Access++
		case accessv1alpha1.ActivityData:
			c.Data++
		default:
			c.Other++
		}
	}
	return c
}

// expectResidualLinked checks that every access change that made a residual
// path is named by that path's madeWhileElevated, and that no path is linked
// to anything else.
func expectResidualLinked(got *accessv1alpha1.ElevationRequest, want []wantActivity) {
	GinkgoHelper()
	var residual []wantActivity
	for _, w := range want {
		if w.Residual {
			residual = append(residual, w)
		}
	}
	paths := got.Status.ResidualAccess
	Expect(paths).To(HaveLen(len(residual)), "residual access: %s", mustJSON(paths))
	for i, w := range residual {
		Expect(paths[i].MadeWhileElevated).To(HavePrefix(w.Action+" "+w.Object+" at "), "path %q", paths[i].Name)
	}
}

// expectAccessChangeEvents checks one AccessChangedWhileElevated Warning per
// access change, naming its object.
func expectAccessChangeEvents(ctx context.Context, er *accessv1alpha1.ElevationRequest, want []wantActivity) {
	GinkgoHelper()
	var objects []string
	for _, w := range want {
		if w.Category == accessv1alpha1.ActivityAccess {
			objects = append(objects, w.Object)
		}
	}
	Expect(objects).NotTo(BeEmpty(), "each backend's subject changes access while elevated")
	var notes []any
	for _, o := range objects {
		notes = append(notes, ContainSubstring(o))
	}
	Eventually(func() []string {
		var out []string
		for _, e := range eventsFor(ctx, er.Namespace, er.Name) {
			if e.Reason == controller.EventAccessChangedWhileElevated && strings.EqualFold(e.Type, corev1.EventTypeWarning) {
				out = append(out, e.Note)
			}
		}
		return out
	}, eventually, poll).Should(ConsistOf(notes...))
}

// nextSecond sleeps into the next wall-clock second.
func nextSecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + 50*time.Millisecond).Sub(now))
}
