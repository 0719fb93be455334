package schema

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/elevator-dev/elevator/internal/testenv"
)

// table is kubectl's default output: a header and rows of columns.
type table struct {
	header []string
	rows   [][]string
}

// parseTable splits kubectl's table output at the columns of its header, so an
// empty cell stays a column of its own; no header name contains a space.
func parseTable(out string) table {
	GinkgoHelper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	Expect(len(lines)).To(BeNumerically(">=", 2), "want a header and at least one row:\n%s", out)
	t := table{header: strings.Fields(lines[0])}
	var starts []int
	for i := 0; i < len(lines[0]); i++ {
		if lines[0][i] != ' ' && (i == 0 || lines[0][i-1] == ' ') {
			starts = append(starts, i)
		}
	}
	for _, line := range lines[1:] {
		row := make([]string, len(starts))
		for i, start := range starts {
			end := len(line)
			if i+1 < len(starts) {
				end = min(starts[i+1], len(line))
			}
			if start < end {
				row[i] = strings.TrimSpace(line[start:end])
			}
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// row returns the row whose first column is name, as column name → value.
func (t table) row(name string) map[string]string {
	GinkgoHelper()
	for _, r := range t.rows {
		if len(r) > 0 && r[0] == name {
			Expect(r).To(HaveLen(len(t.header)), "row %v does not line up with header %v", r, t.header)
			cols := map[string]string{}
			for i, h := range t.header {
				cols[h] = r[i]
			}
			return cols
		}
	}
	Fail("no row named " + name)
	return nil
}

var _ = Describe("kubectl", Ordered, func() {
	var (
		kubectl   func(args ...string) string
		ns        string
		connName  string
		reqName   string
		expiresAt string
	)

	BeforeAll(func(ctx SpecContext) {
		kubectl = kubectlAsAdmin()
		ns = createNamespace(ctx)

		conn := kubernetesConnection()
		set("metadata", object{"name": "prod-cluster", "namespace": ns})(conn)
		stored := expectAccepted(ctx, conn, nil)
		connName = stored.GetName()
		set("status", object{
			"provider":   "kubernetes",
			"conditions": []any{condition("Ready", "True", "Healthy")},
		})(stored.Object)
		Expect(k8sClient.Status().Update(ctx, stored)).To(Succeed())

		req := elevationRequest()
		set("metadata", object{"name": "alice-admin", "namespace": ns})(req)
		stored = expectAccepted(ctx, req, nil)
		reqName = stored.GetName()
		expiresAt = time.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
		set("status", object{
			"phase": "Active", "expiresAt": expiresAt, "requestedBy": "carol", "approvedBy": "bob,dave",
			"target": "prod-cluster/namespace-admin +1", "targetList": "prod-cluster/namespace-admin, payments-db/payments-rw",
			"approvals": []any{
				object{"user": "bob", "at": "2026-01-01T00:00:00Z"},
				object{"user": "dave", "at": "2026-01-01T00:00:01Z"},
			},
		})(stored.Object)
		Expect(k8sClient.Status().Update(ctx, stored)).To(Succeed())
	})

	It("lists ElevationRequests as elevations with PHASE, SUBJECT, TARGET, EXPIRES and AGE", func() {
		t := parseTable(kubectl("get", "elevations", "-n", ns))
		Expect(t.header).To(Equal([]string{"NAME", "PHASE", "SUBJECT", "TARGET", "EXPIRES", "AGE"}))
		Expect(t.rows).To(HaveLen(1))
		row := t.row(reqName)
		Expect(row).To(HaveKeyWithValue("PHASE", "Active"))
		Expect(row).To(HaveKeyWithValue("SUBJECT", "alice@example.com"))
		Expect(row).To(HaveKeyWithValue("TARGET", "prod-cluster/namespace-admin +1"), "the targets, compactly")
		Expect(row).To(HaveKeyWithValue("EXPIRES", expiresAt), "EXPIRES must print the future expiry readably")
		Expect(row["EXPIRES"]).NotTo(ContainSubstring("<invalid>"))
		parsed, err := time.Parse(time.RFC3339, row["EXPIRES"])
		Expect(err).NotTo(HaveOccurred())
		Expect(parsed).To(BeTemporally(">", time.Now()))
		Expect(row["AGE"]).To(MatchRegexp(`^[0-9]+[smhd]`))
	})

	It("adds who asked, who approved, every target and when the removal was verified to the wide output", func() {
		t := parseTable(kubectl("get", "elevations", "-n", ns, "-o", "wide"))
		Expect(t.header).To(Equal([]string{"NAME", "PHASE", "SUBJECT", "TARGET", "EXPIRES", "AGE", "REQUESTED-BY", "APPROVED-BY", "TARGETS", "VERIFIED", "MESSAGE"}))
		row := t.row(reqName)
		Expect(row).To(HaveKeyWithValue("TARGETS", "prod-cluster/namespace-admin, payments-db/payments-rw"))
		Expect(row).To(HaveKeyWithValue("REQUESTED-BY", "carol"))
		Expect(row).To(HaveKeyWithValue("APPROVED-BY", "bob,dave"))
		Expect(row).To(HaveKeyWithValue("VERIFIED", ""), "not verified while Active")
	})

	DescribeTable("explains the status fields a user reads",
		func(path, want string) {
			out := kubectl("explain", "elevationrequests."+path)
			Expect(out).NotTo(ContainSubstring("<no description>"))
			Expect(out).To(ContainSubstring(want))
		},
		Entry("approvals", "status.approvals", "one per approver"),
		Entry("an approval's user", "status.approvals.user", "never a name anyone typed"),
		Entry("conditions", "status.conditions", "RevocationVerified"),
		Entry("the denial", "status.denial", "an approver denied it"),
		Entry("the phase", "status.phase", "pendingTimeout"),
		Entry("the revocation", "status.revocation.verifiedAt", "fresh read"),
	)

	DescribeTable("resolves every name of the ElevationRequest resource",
		func(resource string) {
			t := parseTable(kubectl("get", resource, "-n", ns))
			Expect(t.header).To(ContainElements("PHASE", "SUBJECT", "EXPIRES"))
			Expect(t.row(reqName)).To(HaveKeyWithValue("TARGET", "prod-cluster/namespace-admin +1"))
		},
		Entry("short name elevation", "elevation"),
		Entry("short name elev", "elev"),
		Entry("plural", "elevationrequests"),
		Entry("singular", "elevationrequest"),
		Entry("fully qualified", "elevationrequests.access.elevator.dev"),
	)

	It("gets one request by a short name and name", func() {
		t := parseTable(kubectl("get", "elev", reqName, "-n", ns))
		Expect(t.rows).To(HaveLen(1))
		Expect(t.row(reqName)).To(HaveKeyWithValue("PHASE", "Active"))
	})

	It("lists SaaSConnections with PROVIDER, READY and AGE", func() {
		t := parseTable(kubectl("get", "saasconnections", "-n", ns))
		Expect(t.header).To(Equal([]string{"NAME", "PROVIDER", "READY", "AGE"}))
		row := t.row(connName)
		Expect(row).To(HaveKeyWithValue("PROVIDER", "kubernetes"))
		Expect(row).To(HaveKeyWithValue("READY", "True"))
		Expect(row["AGE"]).To(MatchRegexp(`^[0-9]+[smhd]`))
	})

	It("shows the Ready reason in the wide output of a short name", func() {
		t := parseTable(kubectl("get", "conn", "-n", ns, "-o", "wide"))
		Expect(t.header).To(Equal([]string{"NAME", "PROVIDER", "READY", "REASON", "AGE"}))
		Expect(t.row(connName)).To(HaveKeyWithValue("REASON", "Healthy"))
		Expect(parseTable(kubectl("get", "saasconn", "-n", ns)).row(connName)).To(HaveKeyWithValue("READY", "True"))
	})

	It("lists both kinds under the elevator category", func() {
		out := kubectl("get", "elevator", "-n", ns)
		Expect(out).To(ContainSubstring("elevationrequest.access.elevator.dev/" + reqName))
		Expect(out).To(ContainSubstring("saasconnection.access.elevator.dev/" + connName))
		Expect(out).To(ContainSubstring("PHASE"))
		Expect(out).To(ContainSubstring("PROVIDER"))
	})
})

// kubectlAsAdmin returns a function that runs the real kubectl as a
// system:masters user of the test apiserver, with its own kubeconfig, home and
// discovery cache so that nothing of the developer's machine is read.
func kubectlAsAdmin() func(args ...string) string {
	GinkgoHelper()
	user, err := testEnv.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := user.KubeConfig()
	Expect(err).NotTo(HaveOccurred())

	dir := GinkgoT().TempDir()
	path := filepath.Join(dir, "kubeconfig")
	Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())

	return func(args ...string) string {
		GinkgoHelper()
		all := append([]string{"--kubeconfig", path, "--cache-dir", filepath.Join(dir, "cache")}, args...)
		cmd := exec.Command(testenv.Kubectl(), all...)
		cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		Expect(cmd.Run()).To(Succeed(), "kubectl %s: %s", strings.Join(args, " "), stderr.String())
		GinkgoWriter.Printf("$ kubectl %s\n%s", strings.Join(args, " "), stdout.String())
		return stdout.String()
	}
}
