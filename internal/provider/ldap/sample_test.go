package ldap_test

import (
	"context"
	"testing"

	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/ldap"
	"github.com/elevator-dev/elevator/internal/testenv"
)

// The sample in config/samples decodes strictly into the API types, and the
// provider accepts its connection and reads its Secret's key.
func TestSampleConnection(t *testing.T) {
	secret, conn := testenv.ReadSample(t, "ldap_connection.yaml")
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
