package ldap_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/ldap"
)

// The sample in config/samples decodes strictly into the API types, and the
// provider accepts its connection and reads its Secret's key.
func TestSampleConnection(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "samples", "ldap_connection.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(raw), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("sample has %d documents, want a Secret and a SaaSConnection", len(docs))
	}
	var secret corev1.Secret
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &secret); err != nil {
		t.Fatalf("decode Secret: %v", err)
	}
	var conn accessv1alpha1.SaaSConnection
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &conn); err != nil {
		t.Fatalf("decode SaaSConnection: %v", err)
	}
	ref := conn.Spec.Provider.LDAP.CredentialsSecretRef.Name
	if ref != secret.Name || secret.Namespace != conn.Namespace || secret.StringData["password"] == "" {
		t.Fatalf("the connection's Secret %q does not match the sample Secret %s/%s with key password", ref, secret.Namespace, secret.Name)
	}
	if _, err := ldap.New(context.Background(), provider.Config{Connection: &conn, Secrets: secretsWith(nil)}); err != nil {
		t.Fatalf("the provider rejects the sample: %v", err)
	}
	for _, r := range conn.Spec.Roles {
		if r.LDAP == nil || r.LDAP.GroupDN == "" {
			t.Errorf("role %s has no ldap groupDN", r.Name)
		}
	}
}
