package e2e

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// A connection whose role allows break-glass, erin holding the verb
// breakglass on it and abe the verb approve.
const breakGlassConnection = `apiVersion: access.elevator.dev/v1alpha1
kind: SaaSConnection
metadata:
  name: e2e-glass
  namespace: e2e
spec:
  provider:
    kubernetes: {}
  maxDuration: 1h
  roles:
  - name: ns-admin
    maxDuration: 10m
    requiredApprovals: 1
    breakGlass: {minJustification: 30, maxDuration: 5m, reviewWithin: 1h}
    kubernetes:
      clusterRole: admin
      namespaces: [e2e-plugin]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: e2e-glass
  namespace: e2e
rules:
- apiGroups: [access.elevator.dev]
  resources: [saasconnections]
  resourceNames: [e2e-glass]
  verbs: [breakglass]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: e2e-glass-breakers
  namespace: e2e
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: e2e-glass}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: erin}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: e2e-glass-approver
  namespace: e2e
rules:
- apiGroups: [access.elevator.dev]
  resources: [saasconnections]
  resourceNames: [e2e-glass]
  verbs: [approve]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: e2e-glass-approvers
  namespace: e2e
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: e2e-glass-approver}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: abe}
`

var _ = Describe("break-glass in the shipped configuration", func() {
	It("grants on the subject's own break-glass through the webhook, loudly, and records an approver's review", func(ctx SpecContext) {
		applyPluginFixtures(ctx)
		manifest := filepath.Join(workDir, "glass-connection.yaml")
		Expect(os.WriteFile(manifest, []byte(breakGlassConnection), 0o600)).To(Succeed())
		mustKubectl("apply", "-f", manifest)
		DeferCleanup(func() { _, _, _ = kubectl("delete", "-f", manifest, "--ignore-not-found") })
		mustKubectl("wait", "--for=condition=Ready", "--timeout=60s", "-n", ns, "saasconnection/e2e-glass")

		name := createdName(mustElevate(requester, "request", "e2e-glass/ns-admin", "--for", "2m", "--reason", "INC-4711: billing is down and no approver answers"))
		Eventually(phaseOf(name)).WithTimeout(10 * time.Second).Should(Equal("Pending"))

		By("refusing the break-glass of someone who is not the subject")
		_, stderr, err := kubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+approver, "elevator.dev/break-glass=not mine")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring(`only the subject "erin" may break the glass`))

		mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+requester, "elevator.dev/break-glass=pager unanswered")
		Eventually(phaseOf(name)).WithTimeout(15 * time.Second).Should(Equal("Active"))
		Expect(canI(requester, verb, resource, pluginNS)).To(Equal("yes"))
		Expect(field("elevationrequest/"+name, ns, `.status.conditions[?(@.type=="Approved")].reason`)).To(Equal("BreakGlass"))
		Expect(field("elevationrequest/"+name, ns, ".status.breakGlass.used.user")).To(Equal(requester))
		Expect(field("elevationrequest/"+name, ns, ".status.breakGlass.reviewDeadline")).NotTo(BeEmpty())
		Eventually(func() string {
			return mustKubectl("get", "events.events.k8s.io", "-n", ns, "--field-selector=regarding.name="+name, "-o", "jsonpath={.items[*].reason}")
		}).WithTimeout(10 * time.Second).Should(ContainSubstring("BreakGlass"))

		By("refusing the subject's review of her own break-glass, and recording an approver's")
		_, stderr, err = kubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+requester, "elevator.dev/review=fine")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("broke the glass and cannot review it"))
		mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+approver, "elevator.dev/review=justified: INC-4711")
		Eventually(func() string { return field("elevationrequest/"+name, ns, ".status.breakGlass.review.user") }).
			WithTimeout(10 * time.Second).Should(Equal(approver))

		mustElevate(requester, "revoke", name, "--reason", "fixed")
		Eventually(phaseOf(name)).WithTimeout(15 * time.Second).Should(Equal("Revoked"))
		Expect(canI(requester, verb, resource, pluginNS)).To(Equal("no"))
	})
})
