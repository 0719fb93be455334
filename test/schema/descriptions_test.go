package schema

import (
	"os"
	"path/filepath"
	"sort"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/elevator-dev/elevator/internal/testenv"
)

// undescribed lists the paths below schema whose property has no description,
// as `kubectl explain` would show them: "<no description>".
func undescribed(path string, schema apiextensionsv1.JSONSchemaProps) []string {
	var out []string
	for name, prop := range schema.Properties {
		child := path + "." + name
		if prop.Description == "" && child != ".metadata" {
			out = append(out, child)
		}
		out = append(out, undescribed(child, prop)...)
	}
	if schema.Items != nil && schema.Items.Schema != nil {
		out = append(out, undescribed(path+"[]", *schema.Items.Schema)...)
	}
	sort.Strings(out)
	return out
}

var _ = DescribeTable("every field of the CRDs has a description for kubectl explain",
	func(file string) {
		raw, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), "config", "crd", "bases", file))
		Expect(err).NotTo(HaveOccurred())
		var crd apiextensionsv1.CustomResourceDefinition
		Expect(yaml.Unmarshal(raw, &crd)).To(Succeed())
		Expect(crd.Spec.Versions).NotTo(BeEmpty())
		for _, v := range crd.Spec.Versions {
			Expect(v.Schema.OpenAPIV3Schema.Properties).To(HaveKey("status"))
			Expect(undescribed("", *v.Schema.OpenAPIV3Schema)).To(BeEmpty(), "fields of %s %s without a description", crd.Name, v.Name)
		}
	},
	Entry("ElevationRequest", "access.elevator.dev_elevationrequests.yaml"),
	Entry("SaaSConnection", "access.elevator.dev_saasconnections.yaml"),
)
