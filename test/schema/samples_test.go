package schema

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/elevator-dev/elevator/internal/testenv"
)

var _ = Describe("the sample requests of config/samples", func() {
	DescribeTable("are accepted by the CRD schema as written",
		func(ctx SpecContext, file string) {
			raw, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), "config", "samples", file))
			Expect(err).NotTo(HaveOccurred())
			var o object
			Expect(yaml.Unmarshal(raw, &o)).To(Succeed())
			set("metadata.namespace", createNamespace(ctx))(o)
			stored := expectAccepted(ctx, o, nil)
			Expect(stored.GetName()).NotTo(BeEmpty())
		},
		Entry("one connection", "elevationrequest.yaml"),
		Entry("two targets", "elevationrequest_targets.yaml"),
	)
})
