package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// ReadSample reads a provider sample from config/samples, a Secret followed by a
// SaaSConnection, and decodes both strictly into the API types, failing the
// test on an unknown or misspelt field, or on a Secret that has not opted in to
// being read as credentials.
func ReadSample(t testing.TB, file string) (corev1.Secret, accessv1alpha1.SaaSConnection) {
	t.Helper()
	var secret corev1.Secret
	var conn accessv1alpha1.SaaSConnection
	raw, err := os.ReadFile(filepath.Join(ModuleRoot(), "config", "samples", file))
	if err != nil {
		t.Fatalf("read sample: %v", err)
	}
	docs := strings.Split(string(raw), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("sample %s has %d documents, want a Secret and a SaaSConnection", file, len(docs))
	}
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &secret); err != nil {
		t.Fatalf("decode the sample Secret of %s: %v", file, err)
	}
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &conn); err != nil {
		t.Fatalf("decode the sample SaaSConnection of %s: %v", file, err)
	}
	if secret.Labels[accessv1alpha1.LabelCredentials] != "true" {
		t.Fatalf("the sample Secret of %s does not carry the label %s: \"true\", without which no connection may read it", file, accessv1alpha1.LabelCredentials)
	}
	return secret, conn
}
