package e2e

import (
	"fmt"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const teamAuthor = "team-a-author"

// grabFile writes a connection in team-a whose auto-approved role binds
// clusterRole with the given kubernetes scope, and returns its path.
func grabFile(name, clusterRole, scope string) string {
	path := filepath.Join(workDir, name+".yaml")
	yaml := fmt.Sprintf(`apiVersion: access.elevator.dev/v1alpha1
kind: SaaSConnection
metadata:
  name: %s
  namespace: team-a
spec:
  provider:
    kubernetes: {}
  maxDuration: 1h
  roles:
  - name: grab
    requiredApprovals: 0
    kubernetes:
      clusterRole: %s
      %s
`, name, clusterRole, scope)
	Expect(os.WriteFile(path, []byte(yaml), 0o600)).To(Succeed())
	return path
}

var _ = Describe("a connection author (issue 12, attack 1)", Ordered, func() {
	BeforeAll(func() { mustKubectl("apply", "-f", testdata("connection_author_rbac.yaml")) })

	It("is refused a connection offering admin cluster-wide, and does not become cluster admin", func() {
		_, stderr, err := kubectl("apply", "-f", grabFile("grab-wide", "admin", "clusterWide: true"), "--as="+teamAuthor)
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring(`admission webhook "vsaasconnection.access.elevator.dev" denied the request: ` +
			`spec.roles[0].kubernetes.clusterWide: user "team-a-author" may not hand out ClusterRole "admin" cluster-wide`))
		_, _, err = kubectl("get", "saasconnection/grab-wide", "-n", "team-a")
		Expect(err).To(HaveOccurred(), "the connection was not stored")
		Expect(canI(teamAuthor, "get", "secrets", "kube-system")).To(Equal("no"))
	})

	It("is refused admin in another namespace", func() {
		_, stderr, err := kubectl("apply", "-f", grabFile("grab-other", "admin", "namespaces: [e2e]"), "--as="+teamAuthor)
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring(`spec.roles[0].kubernetes.namespaces[0]: user "team-a-author" may not hand out ClusterRole "admin" in namespace "e2e"`))
	})

	It("cannot have the operator's own ClusterRole handed out, not even by a cluster admin", func() {
		_, stderr, err := kubectl("apply", "-f", grabFile("grab-operator", "elevator-manager-role", "namespaces: [team-a]"))
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring(`spec.roles[0].kubernetes.clusterRole: ClusterRole "elevator-manager-role" may not be handed out: the operator's --grantable-cluster-roles allows only admin, edit, view`))
	})
})
