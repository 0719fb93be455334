package providers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/controller"
	"github.com/elevator-dev/elevator/internal/metrics"
	"github.com/elevator-dev/elevator/internal/policy"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/kubernetes"
	"github.com/elevator-dev/elevator/internal/provider/ldap"
	"github.com/elevator-dev/elevator/internal/provider/postgres"
	"github.com/elevator-dev/elevator/internal/provider/providertest"
	"github.com/elevator-dev/elevator/internal/provider/scim"
	"github.com/elevator-dev/elevator/internal/records"
	"github.com/elevator-dev/elevator/internal/testenv"
)

// The connections of the multi-target fixture, one per system, and the role
// each offers.
const (
	clusterConn   = "cluster"   // kubernetes: a RoleBinding of podReaderRole
	directoryConn = "directory" // ldap: a groupOfNames
	databaseConn  = "database"  // postgres: a NOLOGIN role
	appConn       = "app"       // scim: a group
	clusterRole   = "namespace-admin"
	// podReaderRole is the ClusterRole the cluster connection binds: get
	// and list pods, which a SubjectAccessReview probes.
	podReaderRole = "elevator-providers-pod-reader"
)

// multiSubjects numbers the subjects of the multi-target specs: each spec has
// its own, made on every server it uses.
var multiSubjects atomic.Int32

// system is one target of a multi-target request: a connection of the
// fixture and, for a shared provider, its server and the role and subject on
// it.
type system struct {
	conn string
	role string
	// kind is the provider's kind; b and tgt are unset for kubernetes.
	kind string
	b    backend
	tgt  target
}

func (s system) target() accessv1alpha1.Target {
	return accessv1alpha1.Target{Connection: s.conn, Role: s.role}
}

// multiFixture is one multi-target spec's namespace, subject, connections and
// operator.
type multiFixture struct {
	ctx     context.Context
	ns      string
	subject string
	systems map[string]system
	op      *operator
}

// newMultiFixture registers, in the calling Describe, the BeforeEach that
// makes a namespace and a subject, and the AfterEach that stops the spec's
// operator and proves no credential leaked. Each spec adds the connections
// it needs with addCluster and addShared.
func newMultiFixture() *multiFixture {
	f := &multiFixture{}
	BeforeEach(func() {
		f.ctx = context.Background()
		f.ns = createNamespace(f.ctx, "multi")
		f.subject = fmt.Sprintf("multi.%d@example.com", multiSubjects.Add(1))
		f.systems = map[string]system{}
		ensurePodReader(f.ctx)
	})
	AfterEach(func() {
		if f.op != nil {
			f.op.stop()
			f.op = nil
		}
		var secrets []string
		for _, kind := range []string{ldap.Kind, postgres.Kind, scim.Kind} {
			secrets = append(secrets, backends[kind].Secrets()...)
		}
		expectNoCredentialIn(f.ctx, f.ns, secrets)
	})
	return f
}

// addCluster adds the kubernetes connection, whose role binds podReaderRole
// in the spec's namespace.
func (f *multiFixture) addCluster() system {
	GinkgoHelper()
	role := accessv1alpha1.Role{
		Name: clusterRole, RequiredApprovals: ptr.To[int32](1),
		Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: podReaderRole, Namespaces: []string{f.ns}},
	}
	f.createConnection(clusterConn, accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}}, role)
	s := system{conn: clusterConn, role: clusterRole, kind: kubernetes.Kind}
	f.systems[s.conn] = s
	return s
}

// addShared adds a connection to the suite's server of kind, with a fresh
// role there for the spec's subject; change, if set, changes the
// connection's role first.
func (f *multiFixture) addShared(conn, kind string, change func(*accessv1alpha1.Role)) system {
	GinkgoHelper()
	b := backends[kind]
	tgt := b.NewTargetFor(f.subject)
	secret := conn + "-credentials"
	createNamedSecret(f.ctx, f.ns, secret, b.Credentials())
	role := tgt.Role
	role.RequiredApprovals = ptr.To[int32](1)
	if change != nil {
		change(&role)
	}
	f.createConnection(conn, b.ProviderSpec(secret), role)
	s := system{conn: conn, role: role.Name, kind: kind, b: b, tgt: tgt}
	f.systems[s.conn] = s
	return s
}

func (f *multiFixture) createConnection(name string, spec accessv1alpha1.ProviderSpec, role accessv1alpha1.Role) {
	GinkgoHelper()
	conn := &accessv1alpha1.SaaSConnection{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec:       accessv1alpha1.SaaSConnectionSpec{Provider: spec, MaxDuration: "1h", Roles: []accessv1alpha1.Role{role}},
	}
	Expect(k8sClient.Create(f.ctx, conn)).To(Succeed())
}

// addFour adds the four systems of issue 18's test in the given order of
// connections (clusterConn, directoryConn, databaseConn, appConn).
func (f *multiFixture) addFour(order ...string) []system {
	GinkgoHelper()
	add := map[string]func() system{
		clusterConn:   f.addCluster,
		directoryConn: func() system { return f.addShared(directoryConn, ldap.Kind, nil) },
		databaseConn:  func() system { return f.addShared(databaseConn, postgres.Kind, nil) },
		appConn:       func() system { return f.addShared(appConn, scim.Kind, nil) },
	}
	out := make([]system, 0, len(order))
	for _, conn := range order {
		if s, ok := f.systems[conn]; ok {
			out = append(out, s)
			continue
		}
		out = append(out, add[conn]())
	}
	return out
}

func ensurePodReader(ctx context.Context) {
	GinkgoHelper()
	cr := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: podReaderRole},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}},
	}
	if err := k8sClient.Create(ctx, cr); err != nil && !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
}

// start runs the reconcilers with all four providers, watching the spec's
// namespace; wraps decorates the clients of the provider kinds it names.
func (f *multiFixture) start(wraps map[string]func(provider.Client) provider.Client) {
	GinkgoHelper()
	op, err := testenv.StartInProcess(cfg, testenv.InProcessOptions{
		Scheme:    scheme,
		Namespace: f.ns,
		Setup: func(mgr ctrl.Manager, tracker *metrics.Tracker) error {
			regs := []provider.Registration{
				providertest.Wrap(kubernetes.Registration(mgr.GetClient(), mgr.GetAPIReader()), wraps[kubernetes.Kind]),
			}
			for _, kind := range []string{ldap.Kind, postgres.Kind, scim.Kind} {
				regs = append(regs, providertest.Wrap(backends[kind].Registration(), wraps[kind]))
			}
			return controller.Setup(mgr, controller.Options{
				Providers: provider.NewRegistry(regs...), Metrics: tracker, HealthTimeout: 10 * time.Second,
				Records: recordSigner(), ActivityInterval: activityInterval,
				GrantableClusterRoles: policy.GrantableClusterRoles{podReaderRole},
			})
		},
	})
	Expect(err).NotTo(HaveOccurred())
	f.op = &operator{op}
}

// restart stops the spec's operator and starts another with wraps.
func (f *multiFixture) restart(wraps map[string]func(provider.Client) provider.Client) {
	GinkgoHelper()
	f.op.stop()
	f.op = nil
	f.start(wraps)
}

func (f *multiFixture) createRequest(name, duration string, systems ...system) *accessv1alpha1.ElevationRequest {
	GinkgoHelper()
	targets := make([]accessv1alpha1.Target, 0, len(systems))
	for _, s := range systems {
		targets = append(targets, s.target())
	}
	er := &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: accessv1alpha1.ElevationRequestSpec{
			Subject: f.subject, Targets: targets, Duration: duration,
			Justification: "INC-4711: roll back the billing config",
		},
	}
	Expect(k8sClient.Create(f.ctx, er)).To(Succeed())
	return er
}

// approve writes, signed as the webhook would, one more approval by user that
// counts for the given connections: the webhook records on each approval the
// connections of spec.targets the approver holds the verb approve on.
func (f *multiFixture) approve(er *accessv1alpha1.ElevationRequest, user string, connections ...string) {
	GinkgoHelper()
	conns := slices.Sorted(slices.Values(connections))
	add := func(rec *records.Records) {
		if slices.ContainsFunc(rec.Approvals, func(a accessv1alpha1.ApprovalRecord) bool { return a.User == user }) {
			return
		}
		rec.Approvals = append(rec.Approvals, accessv1alpha1.ApprovalRecord{User: user, At: metav1.Now(), Comment: "ok", Connections: conns})
	}
	Eventually(func() error {
		return testenv.UpdateSignedRecords(f.ctx, k8sClient, recordSigner(), client.ObjectKeyFromObject(er), add)
	}, eventually, poll).Should(Succeed())
}

// granted reads the system itself, never the operator's status: the server's
// membership with the backend's own client, or, for kubernetes, the request's
// RoleBindings fresh from the API server.
func (f *multiFixture) granted(er *accessv1alpha1.ElevationRequest, s system) bool {
	GinkgoHelper()
	if s.b != nil {
		return s.b.IsMember(s.tgt)
	}
	return len(f.requestBindings(er)) > 0
}

// expectAccess checks that the system shows the access granted (want) or
// gone; for kubernetes the authorizer must agree with the bindings, once its
// cache of them has caught up.
func (f *multiFixture) expectAccess(er *accessv1alpha1.ElevationRequest, s system, want bool) {
	GinkgoHelper()
	Expect(f.granted(er, s)).To(Equal(want), "%s: granted on its system", s.target())
	if s.b == nil {
		Eventually(f.subjectCanGetPods, eventually, poll).Should(Equal(want),
			"%s: a SubjectAccessReview for get pods in %s", s.target(), f.ns)
	}
}

// requestBindings names the RoleBindings in the spec's namespace that the
// operator made for er and that bind the subject, read fresh.
func (f *multiFixture) requestBindings(er *accessv1alpha1.ElevationRequest) []string {
	GinkgoHelper()
	var list rbacv1.RoleBindingList
	Expect(k8sClient.List(f.ctx, &list, client.InNamespace(f.ns),
		client.MatchingLabels{accessv1alpha1.LabelRequestName: er.Name})).To(Succeed())
	var names []string
	for _, rb := range list.Items {
		if slices.ContainsFunc(rb.Subjects, func(s rbacv1.Subject) bool { return s.Kind == rbacv1.UserKind && s.Name == f.subject }) {
			names = append(names, rb.Name)
		}
	}
	return names
}

// subjectCanGetPods asks the real authorizer whether the subject may get pods
// in the spec's namespace, the permission podReaderRole gives.
func (f *multiFixture) subjectCanGetPods() bool {
	GinkgoHelper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               f.subject,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: f.ns, Verb: "get", Resource: "pods"},
	}}
	Expect(k8sClient.Create(f.ctx, sar)).To(Succeed())
	return sar.Status.Allowed
}

// verificationMethod and absentEvidence are what a target's verified
// revocation must say it read, and a phrase its evidence must hold.
func (f *multiFixture) verificationMethod(s system) string {
	if s.b != nil {
		return s.b.VerificationMethod(s.tgt)
	}
	return "SubjectAccessReview"
}

func (f *multiFixture) absentEvidence(s system) string {
	if s.b != nil {
		return s.b.AbsentEvidence(s.tgt)
	}
	return fmt.Sprintf("SubjectAccessReview: %s get pods in namespace %s: denied", f.subject, f.ns)
}

// targetStatus is status.targets' entry for the system's connection.
func targetStatus(got *accessv1alpha1.ElevationRequest, s system) accessv1alpha1.TargetStatus {
	GinkgoHelper()
	i := slices.IndexFunc(got.Status.Targets, func(t accessv1alpha1.TargetStatus) bool {
		return t.Connection == s.conn && t.Role == s.role
	})
	Expect(i).NotTo(Equal(-1), "status.targets has no entry for %s: %s", s.target(), mustJSON(got.Status.Targets))
	return got.Status.Targets[i]
}

// expectTargetsInSpecOrder checks that status.targets has one entry per
// target of the spec, in its order.
func expectTargetsInSpecOrder(got *accessv1alpha1.ElevationRequest) {
	GinkgoHelper()
	want := make([]string, 0, len(got.Spec.Targets))
	for _, t := range got.Spec.Targets {
		want = append(want, t.String())
	}
	have := make([]string, 0, len(got.Status.Targets))
	for i := range got.Status.Targets {
		have = append(have, got.Status.Targets[i].String())
	}
	Expect(have).To(Equal(want), "status.targets follows spec.targets")
}

// expectTargetGranted checks a target's status once the request is Active.
func (f *multiFixture) expectTargetGranted(got *accessv1alpha1.ElevationRequest, s system) {
	GinkgoHelper()
	ts := targetStatus(got, s)
	Expect(ts.Phase).To(Equal(accessv1alpha1.PhaseActive), "%s", s.target())
	Expect(ts.GrantedAt).NotTo(BeNil(), "%s: grantedAt", s.target())
	Expect(ts.Grant).NotTo(BeNil(), "%s: grant", s.target())
	Expect(ts.Grant.Preexisting).To(BeFalse(), "%s: the grant was made by this request", s.target())
	Expect(ts.Grant.Error).To(BeEmpty(), "%s", s.target())
	stored := ts.Grant.Target
	Expect(stored).NotTo(BeNil(), "%s: grant.target, the resolved identity, is stored with the grant", s.target())
	if s.b == nil {
		Expect(stored.Endpoint).To(Equal(kubernetes.Endpoint))
		Expect(stored.Bindings).To(ConsistOf(HaveField("Namespace", f.ns)), "%s: one RoleBinding in the role's namespace", s.target())
		return
	}
	Expect(stored.Subject).NotTo(BeNil(), "%s: grant.target.subject", s.target())
	Expect(stored.Group).NotTo(BeNil(), "%s: grant.target.group", s.target())
	if s.kind == ldap.Kind {
		Expect(dnEqual(s.tgt.UserRef)(stored.Subject.ID)).To(BeTrue(), "stored subject %q, want %q", stored.Subject.ID, s.tgt.UserRef)
		Expect(dnEqual(s.tgt.GroupRef)(stored.Group.ID)).To(BeTrue(), "stored group %q, want %q", stored.Group.ID, s.tgt.GroupRef)
		return
	}
	if s.kind == scim.Kind {
		Expect(stored.Subject.ID).To(Equal(s.tgt.UserRef))
		Expect(stored.Group.ID).To(Equal(s.tgt.GroupRef))
		return
	}
	Expect(stored.Subject.Name).To(Equal(s.tgt.UserRef))
	Expect(stored.Group.Name).To(Equal(s.tgt.GroupRef))
}

// expectTargetVerified checks a target's record of a removal verified by a
// fresh read of its system, and that the target ended in one of phases.
func (f *multiFixture) expectTargetVerified(got *accessv1alpha1.ElevationRequest, s system, reason string, phases ...accessv1alpha1.Phase) {
	GinkgoHelper()
	ts := targetStatus(got, s)
	Expect(ts.Phase).To(BeElementOf(phases), "%s: %s", s.target(), mustJSON(ts))
	rev := ts.Revocation
	Expect(rev).NotTo(BeNil(), "%s: revocation", s.target())
	Expect(rev.Reason).To(Equal(reason), "%s", s.target())
	Expect(rev.VerifiedAt).NotTo(BeNil(), "%s: nothing is marked revoked that was not verified", s.target())
	Expect(rev.RetainedBy).To(BeEmpty(), "%s", s.target())
	Expect(rev.Method).To(ContainSubstring(f.verificationMethod(s)), "%s", s.target())
	Expect(rev.Detail).To(ContainSubstring(f.absentEvidence(s)), "%s", s.target())
}

// waitMultiPhase is waitPhase with the request's whole status in the failure
// message, status.targets included.
func waitMultiPhase(ctx context.Context, er *accessv1alpha1.ElevationRequest, phase accessv1alpha1.Phase) *accessv1alpha1.ElevationRequest {
	GinkgoHelper()
	var got *accessv1alpha1.ElevationRequest
	Eventually(func() accessv1alpha1.Phase {
		got = get(ctx, er)
		return got.Status.Phase
	}, eventually, poll).Should(Equal(phase), func() string { return "status of " + er.Name + ": " + mustJSON(got.Status) })
	return got
}

// counters are grant counters by provider kind, with the wraps that count.
type grantCounters map[string]*atomic.Int32

func countingWraps(kinds ...string) (grantCounters, map[string]func(provider.Client) provider.Client) {
	counts := grantCounters{}
	wraps := map[string]func(provider.Client) provider.Client{}
	for _, kind := range kinds {
		n := &atomic.Int32{}
		counts[kind] = n
		wraps[kind] = func(c provider.Client) provider.Client { return providertest.CountGrants{Client: c, Grants: n} }
	}
	return counts, wraps
}

var allKinds = []string{kubernetes.Kind, ldap.Kind, postgres.Kind, scim.Kind}

var _ = Describe("A multi-target request against the real kube-apiserver, slapd, PostgreSQL and SCIM server", func() {
	f := newMultiFixture()

	It("grants all four targets, is Active only once all are, and at its one expiry revokes and verifies each", func() {
		systems := f.addFour(clusterConn, directoryConn, databaseConn, appConn)
		app := f.systems[appConn]
		// The SCIM grant waits at a gate, so that the request is seen with
		// three targets granted and one not.
		gate := make(chan struct{})
		var waiting atomic.Int32
		f.start(map[string]func(provider.Client) provider.Client{
			scim.Kind: func(c provider.Client) provider.Client {
				return providertest.GatedGrant{Client: c, Open: gate, Waiting: &waiting}
			},
		})
		const duration = 6 * time.Second
		er := f.createRequest("four", duration.String(), systems...)

		got := waitMultiPhase(f.ctx, er, accessv1alpha1.PhasePending)
		expectTargetsInSpecOrder(got)
		Expect(got.Status.Target).To(Equal(clusterConn + "/" + clusterRole + " +3"))
		Expect(strings.Split(strings.ReplaceAll(got.Status.TargetList, " ", ""), ",")).To(Equal([]string{
			clusterConn + "/" + clusterRole, directoryConn + "/elevated", databaseConn + "/elevated", appConn + "/elevated",
		}))
		for _, s := range systems {
			ts := targetStatus(got, s)
			Expect(ts.Phase).To(Equal(accessv1alpha1.PhasePending), "%s", s.target())
			Expect(ts.RequiredApprovals).To(Equal(int32(1)), "%s", s.target())
			Expect(ts.Approvals).To(BeZero(), "%s", s.target())
			f.expectAccess(er, s, false)
		}

		f.approve(er, approver, clusterConn, directoryConn, databaseConn, appConn)
		for _, s := range systems[:3] {
			Eventually(func() bool { return f.granted(er, s) }, eventually, poll).Should(BeTrue(), "%s is granted on its system", s.target())
		}
		Eventually(waiting.Load, eventually, poll).Should(BeNumerically(">=", 1), "the SCIM grant reached its gate")
		Expect(f.granted(er, app)).To(BeFalse(), "the SCIM grant is held at the gate")
		Consistently(func() accessv1alpha1.Phase { return get(f.ctx, er).Status.Phase }, 2*time.Second, poll).
			Should(Equal(accessv1alpha1.PhaseApproved), "not Active while one target is not granted")

		close(gate)
		got = waitMultiPhase(f.ctx, er, accessv1alpha1.PhaseActive)
		expectTargetsInSpecOrder(got)
		var first, last time.Time
		for _, s := range systems {
			f.expectAccess(er, s, true)
			f.expectTargetGranted(got, s)
			ts := targetStatus(got, s)
			Expect(ts.Approvals).To(Equal(int32(1)), "%s: the one approval counts for every connection it names", s.target())
			at := ts.GrantedAt.Time
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
		}
		Expect(got.Status.Grant).To(BeNil(), "with spec.targets each target's grant is in status.targets")
		Expect(got.Status.GrantedAt).NotTo(BeNil())
		Expect(got.Status.GrantedAt.Time).To(BeTemporally("==", last), "grantedAt is when the last target was granted")
		Expect(got.Status.ExpiresAt).NotTo(BeNil())
		Expect(got.Status.ExpiresAt.Time).To(BeTemporally("==", first.Add(duration)), "expiresAt is one instant: the first target's grant + duration")
		Expect(condition(got.Status.Conditions, accessv1alpha1.ConditionApproved).Status).To(Equal(metav1.ConditionTrue))
		Expect(condition(got.Status.Conditions, accessv1alpha1.ConditionGranted).Status).To(Equal(metav1.ConditionTrue))

		got = waitMultiPhase(f.ctx, er, accessv1alpha1.PhaseRevoked)
		for _, s := range systems {
			f.expectAccess(er, s, false)
			f.expectTargetVerified(got, s, accessv1alpha1.RevocationExpired, accessv1alpha1.PhaseRevoked)
			Expect(targetStatus(got, s).Revocation.VerifiedAt.Time).NotTo(BeTemporally("<", got.Status.ExpiresAt.Time), "%s: verified at or after the expiry", s.target())
		}
		rev := got.Status.Revocation
		Expect(rev).NotTo(BeNil())
		Expect(rev.Reason).To(Equal(accessv1alpha1.RevocationExpired))
		Expect(rev.VerifiedAt).NotTo(BeNil(), "verified once every target's removal was")
		for _, s := range systems {
			Expect(rev.VerifiedAt.Time).NotTo(BeTemporally("<", targetStatus(got, s).Revocation.VerifiedAt.Time),
				"the request's verifiedAt is not before %s's", s.target())
		}
		Expect(got.Status.RevokedAt).NotTo(BeNil())
		cond := condition(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)
		Expect(cond.Status).To(Equal(metav1.ConditionTrue), "%s: %s", cond.Reason, cond.Message)
		AddReportEntry("four targets: expiry to verified revocation", rev.VerifiedAt.Sub(got.Status.ExpiresAt.Time).String())
	})

	It("rolls back and verifies the three granted targets when the fourth's role is missing on its server, and ends Failed naming it", func() {
		missing := "missing_role_" + randomHex(4)
		f.addCluster()
		f.addShared(directoryConn, ldap.Kind, nil)
		f.addShared(appConn, scim.Kind, nil)
		database := f.addShared(databaseConn, postgres.Kind, func(r *accessv1alpha1.Role) { r.Postgres.Role = missing })
		systems := []system{f.systems[clusterConn], f.systems[directoryConn], f.systems[appConn], database}
		granted := systems[:3]
		counts, wraps := countingWraps(allKinds...)
		f.start(wraps)
		er := f.createRequest("missing", "1m", systems...)
		f.approve(er, approver, clusterConn, directoryConn, databaseConn, appConn)

		got := waitMultiPhase(f.ctx, er, accessv1alpha1.PhaseFailed)
		expectTargetsInSpecOrder(got)
		Expect(got.Status.Message).To(ContainSubstring(database.target().String()), "the message names the target that failed")
		failed := targetStatus(got, database)
		Expect(failed.Phase).To(Equal(accessv1alpha1.PhaseFailed))
		Expect(failed.Grant).NotTo(BeNil())
		Expect(failed.Grant.Error).To(ContainSubstring(missing), "grant.error says what the server refused")
		Expect(counts[postgres.Kind].Load()).To(BeZero(), "the server granted nothing for the missing role")
		AddReportEntry("multi-target Failed message", got.Status.Message)

		for _, s := range granted {
			Expect(counts[s.kind].Load()).To(BeNumerically(">=", 1), "%s was granted before the rollback", s.target())
			f.expectAccess(er, s, false)
			// A target granted and then undone because another failed ends
			// Revoked; only the target whose grant failed ends Failed.
			f.expectTargetVerified(got, s, accessv1alpha1.RevocationGrantUndo, accessv1alpha1.PhaseRevoked)
			Expect(targetStatus(got, s).Grant.Error).To(BeEmpty(), "%s: its own grant was not refused", s.target())
		}
		rev := got.Status.Revocation
		Expect(rev).NotTo(BeNil())
		Expect(rev.VerifiedAt).NotTo(BeNil(), "the rollback of every granted target was verified")
		cond := condition(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)
		Expect(cond.Status).To(Equal(metav1.ConditionTrue), "%s: %s", cond.Reason, cond.Message)
		Consistently(func() []bool {
			var held []bool
			for _, s := range granted {
				held = append(held, f.granted(er, s))
			}
			return held
		}, 2*time.Second, 200*time.Millisecond).Should(HaveEach(false), "nothing is granted again after Failed")
		Expect(failed.Grant.Error).To(ContainSubstring(database.target().String()), "grant.error names the target")
	})

	It("converges after a crash between two targets' grants: each target granted, none left after expiry", func() {
		// The directory's grant is first: the crashed operator makes it and
		// stops before any other target is granted or the status is written.
		systems := f.addFour(directoryConn, clusterConn, databaseConn, appConn)
		directory := systems[0]
		var crashed, held atomic.Int32
		hold := func(c provider.Client) provider.Client { return providertest.GatedGrant{Client: c, Waiting: &held} }
		f.start(map[string]func(provider.Client) provider.Client{
			ldap.Kind: func(c provider.Client) provider.Client {
				return providertest.HangAfterGrant{Client: c, Grants: &crashed}
			},
			kubernetes.Kind: hold, postgres.Kind: hold, scim.Kind: hold,
		})
		er := f.createRequest("crash", "5s", systems...)
		f.approve(er, approver, clusterConn, directoryConn, databaseConn, appConn)
		Eventually(crashed.Load, eventually, poll).Should(BeNumerically(">=", 1))
		Expect(f.granted(er, directory)).To(BeTrue(), "the crashed operator granted the directory target on the server")
		for _, s := range systems[1:] {
			Expect(f.granted(er, s)).To(BeFalse(), "%s was not granted before the crash", s.target())
		}
		Expect(get(f.ctx, er).Status.Phase).To(Equal(accessv1alpha1.PhaseApproved), "the status write never happened")

		counts, wraps := countingWraps(allKinds...)
		f.restart(wraps)
		got := waitMultiPhase(f.ctx, er, accessv1alpha1.PhaseActive)
		for _, s := range systems {
			f.expectAccess(er, s, true)
			f.expectTargetGranted(got, s)
		}
		Expect(targetStatus(got, directory).Grant.Preexisting).To(BeFalse(), "the membership the crashed operator made is not standing access")
		Expect(f.requestBindings(er)).To(HaveLen(1), "one RoleBinding for the cluster target, not one per attempt")
		AddReportEntry("grants by the restarted operator, by provider", fmt.Sprintf("kubernetes %d, ldap %d, postgres %d, scim %d",
			counts[kubernetes.Kind].Load(), counts[ldap.Kind].Load(), counts[postgres.Kind].Load(), counts[scim.Kind].Load()))

		got = waitMultiPhase(f.ctx, er, accessv1alpha1.PhaseRevoked)
		for _, s := range systems {
			f.expectAccess(er, s, false)
			f.expectTargetVerified(got, s, accessv1alpha1.RevocationExpired, accessv1alpha1.PhaseRevoked)
		}
		cond := condition(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)
		Expect(cond.Status).To(Equal(metav1.ConditionTrue), "%s: %s", cond.Reason, cond.Message)
	})

	It("stays Pending while an approval counts for one of two connections only, and is approved once the other has one", func() {
		cluster := f.addCluster()
		database := f.addShared(databaseConn, postgres.Kind, nil)
		f.start(nil)
		er := f.createRequest("partial", "3s", cluster, database)
		waitMultiPhase(f.ctx, er, accessv1alpha1.PhasePending)

		f.approve(er, approver, clusterConn)
		Eventually(func(g Gomega) {
			got := get(f.ctx, er)
			g.Expect(got.Status.Approvals).To(HaveLen(1))
			g.Expect(got.Status.Targets).To(HaveLen(2))
			g.Expect(targetStatus(got, cluster).Approvals).To(Equal(int32(1)))
			g.Expect(targetStatus(got, database).Approvals).To(BeZero())
		}, eventually, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			got := get(f.ctx, er)
			g.Expect(got.Status.Phase).To(Equal(accessv1alpha1.PhasePending))
			g.Expect(got.Status.ApprovedAt).To(BeNil())
			g.Expect(targetStatus(got, database).Phase).To(Equal(accessv1alpha1.PhasePending))
		}, 2*time.Second, poll).Should(Succeed(), "one target's approvals do not approve the request")
		Expect(condition(get(f.ctx, er).Status.Conditions, accessv1alpha1.ConditionApproved).Status).NotTo(Equal(metav1.ConditionTrue))
		for _, s := range []system{cluster, database} {
			f.expectAccess(er, s, false)
		}

		f.approve(er, "carol@example.com", databaseConn)
		got := waitMultiPhase(f.ctx, er, accessv1alpha1.PhaseActive)
		Expect(got.Status.ApprovedAt).NotTo(BeNil())
		for _, s := range []system{cluster, database} {
			Expect(targetStatus(got, s).Approvals).To(Equal(int32(1)), "%s", s.target())
			f.expectAccess(er, s, true)
		}
		got = waitMultiPhase(f.ctx, er, accessv1alpha1.PhaseRevoked)
		for _, s := range []system{cluster, database} {
			f.expectAccess(er, s, false)
			f.expectTargetVerified(got, s, accessv1alpha1.RevocationExpired, accessv1alpha1.PhaseRevoked)
		}
	})
	It("keeps a membership another request holds: the overlap rule works per target", func() {
		cluster := f.addCluster()
		directory := f.addShared(directoryConn, ldap.Kind, nil)
		f.start(nil)
		single := &accessv1alpha1.ElevationRequest{
			ObjectMeta: metav1.ObjectMeta{Name: "single", Namespace: f.ns},
			Spec: accessv1alpha1.ElevationRequestSpec{Subject: f.subject, Connection: directory.conn, Role: directory.role,
				Duration: "1h", Justification: "INC-4711: the directory part, for longer"},
		}
		Expect(k8sClient.Create(f.ctx, single)).To(Succeed())
		f.approve(single, approver)
		waitMultiPhase(f.ctx, single, accessv1alpha1.PhaseActive)

		multi := f.createRequest("multi", "1h", cluster, directory)
		f.approve(multi, approver, clusterConn, directoryConn)
		got := waitMultiPhase(f.ctx, multi, accessv1alpha1.PhaseActive)
		Expect(targetStatus(got, directory).Grant.Preexisting).To(BeFalse(), "a membership another request made is not standing access")

		Expect(k8sClient.Delete(f.ctx, multi)).To(Succeed())
		Eventually(func(g Gomega) {
			got := get(f.ctx, multi)
			g.Expect(targetStatus(got, cluster).Phase).To(Equal(accessv1alpha1.PhaseRevoked))
			g.Expect(targetStatus(got, directory).Revocation.RetainedBy).To(Equal(f.ns + "/single"))
			g.Expect(got.Status.Phase).To(Equal(accessv1alpha1.PhaseRevoking))
			g.Expect(condition(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified).Status).NotTo(Equal(metav1.ConditionTrue))
		}, eventually, poll).Should(Succeed())
		f.expectAccess(multi, cluster, false)
		Expect(directory.b.IsMember(directory.tgt)).To(BeTrue(), "the single request still holds the membership")

		revokeSingle := func(rec *records.Records) {
			rec.Revocation = &accessv1alpha1.RevokeRecord{User: approver, At: metav1.Now(), Reason: "done"}
		}
		Eventually(func() error {
			return testenv.UpdateSignedRecords(f.ctx, k8sClient, recordSigner(), client.ObjectKeyFromObject(single), revokeSingle)
		}, eventually, poll).Should(Succeed())
		waitMultiPhase(f.ctx, single, accessv1alpha1.PhaseRevoked)
		Eventually(func() bool {
			err := k8sClient.Get(f.ctx, client.ObjectKeyFromObject(multi), &accessv1alpha1.ElevationRequest{})
			return apierrors.IsNotFound(err)
		}, eventually, poll).Should(BeTrue(), "the last holder's end lets the deleted request finish and go")
		Expect(directory.b.IsMember(directory.tgt)).To(BeFalse())
	})
})
