package alerts

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

const (
	ns        = "alerts"
	requester = "erin" // asks for access for herself, and may break the glass
	approver  = "abe"
	duration  = 15 * time.Second
)

// fixtures: a kubernetes connection whose role allows break-glass, with two
// notification sinks (one that accepts, one that always fails), and the RBAC
// of its requester and approver.
const fixtures = `apiVersion: v1
kind: Namespace
metadata: {name: alerts}
---
apiVersion: v1
kind: Secret
metadata: {name: sink-ok, namespace: alerts, labels: {elevator.dev/credentials: "true"}}
stringData: {url: "%s"}
---
apiVersion: v1
kind: Secret
metadata: {name: sink-down, namespace: alerts, labels: {elevator.dev/credentials: "true"}}
stringData: {url: "%s"}
---
apiVersion: access.elevator.dev/v1alpha1
kind: SaaSConnection
metadata: {name: alerts-cluster, namespace: alerts}
spec:
  provider: {kubernetes: {}}
  maxDuration: 1h
  notifications:
  - {name: ok, type: CloudEvents, secretRef: {name: sink-ok}}
  - {name: down, type: CloudEvents, secretRef: {name: sink-down}}
  roles:
  - name: ns-admin
    maxDuration: 10m
    requiredApprovals: 1
    breakGlass: {minJustification: 20, maxDuration: 5m, reviewWithin: 1h}
    kubernetes: {clusterRole: admin, namespaces: [alerts]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: requester, namespace: alerts}
rules:
- {apiGroups: [access.elevator.dev], resources: [elevationrequests], verbs: [create, get, list, watch, update, patch]}
- {apiGroups: [access.elevator.dev], resources: [saasconnections], verbs: [get, list, watch]}
- {apiGroups: [access.elevator.dev], resources: [saasconnections], resourceNames: [alerts-cluster], verbs: [breakglass]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: requesters, namespace: alerts}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: requester}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: erin}
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: abe}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: approver, namespace: alerts}
rules:
- {apiGroups: [access.elevator.dev], resources: [saasconnections], resourceNames: [alerts-cluster], verbs: [approve]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: approvers, namespace: alerts}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: approver}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: abe}
`

// backdoor is what a subject with admin of the namespace could leave behind:
// a binding of their own, created inside the window.
const backdoor = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: backdoor, namespace: alerts}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: erin}
`

func request(name, justification string) string {
	return fmt.Sprintf(`apiVersion: access.elevator.dev/v1alpha1
kind: ElevationRequest
metadata: {name: %s, namespace: alerts}
spec:
  subject: erin
  connection: alerts-cluster
  role: ns-admin
  duration: %s
  justification: %q
`, name, duration, justification)
}

func phaseOf(name string) func() string {
	return func() string {
		return kubectl("get", "elevationrequest/"+name, "-n", ns, "-o", "jsonpath={.status.phase}")
	}
}

// sink is a notification receiver that answers every POST with status.
func sink(status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	DeferCleanup(srv.Close)
	return srv
}

// scraper scrapes the operator (and the leader-election stand-in, if any)
// into st every interval until stopped, as Prometheus would.
type scraper struct {
	st     *store
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

func startScraping(interval time.Duration) *scraper {
	ctx, cancel := context.WithCancel(context.Background())
	s := &scraper{st: newStore(), cancel: cancel}
	s.scrapeOnce(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				s.scrapeOnce(ctx)
			}
		}
	}()
	return s
}

func (s *scraper) scrapeOnce(ctx context.Context) {
	err := s.st.scrape(ctx, metricsAddr, "elevator", nil)
	if err == nil && leaderMetricsAddr != "" {
		err = s.st.scrape(ctx, leaderMetricsAddr, "leader-election-stand-in", func(name string) bool {
			return strings.HasPrefix(name, "leader_election_")
		})
	}
	if err != nil && ctx.Err() == nil {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}
}

// stop ends the scraping and returns the first error it met.
func (s *scraper) stop() error {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

var _ = Describe("the alert rules and dashboard queries", Ordered, ContinueOnFailure, func() {
	var (
		scr    *scraper
		served map[string]map[string]bool
		engine *promql.Engine
		at     time.Time
	)

	BeforeAll(func() {
		scr = startScraping(time.Second)
		DeferCleanup(func() { _ = scr.stop() })
		engine = promql.NewEngine(promql.EngineOpts{MaxSamples: 1_000_000, Timeout: 30 * time.Second, LookbackDelta: 5 * time.Minute})
	})

	It("drives the operator through the events its metrics count", func() {
		ok, down := sink(http.StatusAccepted), sink(http.StatusServiceUnavailable)
		kubectlApply(fmt.Sprintf(fixtures, ok.URL, down.URL))
		kubectl("wait", "--for=condition=Ready", "--timeout=60s", "-n", ns, "saasconnection/alerts-cluster")

		By("a request approved by an approver, during which the subject leaves a backdoor")
		kubectlApply(request("approved", "alerts: an approved request"), requester)
		kubectl("annotate", "elevationrequest/approved", "-n", ns, "--as="+approver, "elevator.dev/approve=ok")
		Eventually(phaseOf("approved")).WithTimeout(30 * time.Second).Should(Equal("Active"))
		kubectlApply(backdoor)

		By("a request its subject approves by break-glass")
		kubectlApply(request("broken-glass", "alerts: the pager went unanswered at night"), requester)
		kubectl("annotate", "elevationrequest/broken-glass", "-n", ns, "--as="+requester, "elevator.dev/break-glass=pager unanswered")
		Eventually(phaseOf("broken-glass")).WithTimeout(30 * time.Second).Should(Equal("Active"))

		By("both expire, are revoked and verified; the backdoor is residual access created inside the window")
		for _, name := range []string{"approved", "broken-glass"} {
			Eventually(phaseOf(name)).WithTimeout(duration + 45*time.Second).Should(Equal("Revoked"))
		}
		Expect(kubectl("get", "elevationrequest/approved", "-n", ns, "-o", "jsonpath={.status.residualAccess[*].insideWindow}")).To(ContainSubstring("true"))

		By("scraping until the counters moved: notifications sent and failed")
		Eventually(func() []string { return seriesNames(scr.st) }).WithTimeout(30 * time.Second).Should(ContainElements(
			"elevator_notifications_sent_total", "elevator_notifications_failed_total", "elevator_break_glass_total",
			"controller_runtime_webhook_requests_total"))
		// Enough scrapes after the last event for rate() to see it.
		time.Sleep(5 * time.Second)
		Expect(scr.stop()).To(Succeed())
		served = scr.st.names()
		at = scr.st.lastScrape()
	})

	// Every problem of every expression is reported at once.
	It("uses only metrics and labels the operator serves, in every alert expression", func(ctx SpecContext) {
		var problems []string
		for _, r := range loadRules() {
			problems = append(problems, checkServed(r.Alert, r.Expr, served)...)
			if _, err := evaluate(ctx, engine, scr.st, r.Expr, at); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", r.Alert, err))
			}
		}
		Expect(problems).To(BeEmpty())
	})

	It("uses only metrics and labels the operator serves, in every dashboard query, and each returns series", func(ctx SpecContext) {
		var problems []string
		for _, q := range loadDashboardQueries() {
			problems = append(problems, checkServed(q.Panel, q.Expr, served)...)
			vec, err := evaluate(ctx, engine, scr.st, q.Expr, at)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("panel %q: %v", q.Panel, err))
			case len(vec) == 0:
				problems = append(problems, fmt.Sprintf("panel %q: %s returns nothing", q.Panel, q.Expr))
			}
		}
		Expect(problems).To(BeEmpty())
	})

	It("fires the alerts for what happened, and no other", func(ctx SpecContext) {
		firing := map[string]bool{}
		for _, r := range loadRules() {
			vec, err := evaluate(ctx, engine, scr.st, r.Expr, at)
			Expect(err).NotTo(HaveOccurred(), r.Alert)
			firing[r.Alert] = len(vec) > 0
		}
		GinkgoWriter.Printf("firing: %v\n", firing)
		Expect(firing).To(HaveKeyWithValue("ElevatorResidualAccessInsideWindow", true), "the backdoor RoleBinding was residual access created inside the window")
		Expect(firing).To(HaveKeyWithValue("ElevatorNotificationFailures", true), "the sink that answers 503 failed every delivery")
		// ElevatorReconcileErrors may fire too: the failing sink's deliveries are reconcile errors.
		for _, quiet := range []string{"ElevatorRevocationOverdue", "ElevatorRevocationFailures", "ElevatorMissedNextLook", "ElevatorAuditEventsDropped",
			"ElevatorBreakGlassReviewOverdue", "ElevatorNotLeading", "ElevatorWebhookErrors"} {
			Expect(firing).To(HaveKeyWithValue(quiet, false), "nothing in this run should fire %s", quiet)
		}
	})

	It("fires ElevatorNotLeading when no replica serves a leader", func(ctx SpecContext) {
		var expr string
		for _, r := range loadRules() {
			if r.Alert == "ElevatorNotLeading" {
				expr = r.Expr
			}
		}
		Expect(expr).NotTo(BeEmpty())
		vec, err := evaluate(ctx, engine, scr.st.without("leader_election_"), expr, at)
		Expect(err).NotTo(HaveOccurred())
		Expect(vec).To(HaveLen(1), "a standby serves no leader_election_master_status: none leading must fire")
		Expect(vec[0].F).To(BeZero())
	})
})

// seriesNames lists the metric names scraped so far.
func seriesNames(st *store) []string {
	var out []string
	for name := range st.names() {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// checkServed parses expr and returns what is wrong with it: a parse error, a
// metric it selects that the operator does not serve, a label it matches on or
// groups by that is on none of that metric's series.
func checkServed(owner, expr string, served map[string]map[string]bool) []string {
	parsed, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v (%s)", owner, err, expr)}
	}
	var problems []string
	selectors := vectorSelectors(parsed)
	if len(selectors) == 0 {
		problems = append(problems, fmt.Sprintf("%s selects no metric (%s)", owner, expr))
	}
	for _, vs := range selectors {
		name := selectorName(vs)
		labelNames, ok := served[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: the operator serves no %s (%s)", owner, name, expr))
			continue
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != model.MetricNameLabel && !labelNames[m.Name] {
				problems = append(problems, fmt.Sprintf("%s: %s has no label %s (%s)", owner, name, m.Name, expr))
			}
		}
	}
	parser.Inspect(parsed, func(node parser.Node, _ []parser.Node) error {
		agg, ok := node.(*parser.AggregateExpr)
		if !ok {
			return nil
		}
		for _, vs := range vectorSelectors(agg.Expr) {
			for _, l := range agg.Grouping {
				if labelNames, ok := served[selectorName(vs)]; ok && !labelNames[l] {
					problems = append(problems, fmt.Sprintf("%s: grouped by %s, which %s does not have (%s)", owner, l, selectorName(vs), expr))
				}
			}
		}
		return nil
	})
	return problems
}

func selectorName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	Fail("a selector without a metric name: " + vs.String())
	return ""
}

func vectorSelectors(node parser.Node) []*parser.VectorSelector {
	var out []*parser.VectorSelector
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

// evaluate runs expr as an instant query at at and returns its vector, or
// what went wrong.
func evaluate(ctx context.Context, engine *promql.Engine, st *store, expr string, at time.Time) (promql.Vector, error) {
	q, err := engine.NewInstantQuery(ctx, st, nil, expr, at)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", expr, err)
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, fmt.Errorf("%s: %w", expr, res.Err)
	}
	vec, err := res.Vector()
	if err != nil {
		return nil, fmt.Errorf("%s is not an instant vector: %w", expr, err)
	}
	GinkgoWriter.Printf("%s => %d series\n", expr, len(vec))
	return vec, nil
}
