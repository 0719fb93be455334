package scim_test

import (
	"context"
	"testing"

	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/scim"
	"github.com/elevator-dev/elevator/internal/testenv"
)

// TestSample: config/samples/scim_connection.yaml decodes strictly into the API
// types, and the provider accepts its connection and reads its Secret's token.
func TestSample(t *testing.T) {
	secret, conn := testenv.ReadSample(t, "scim_connection.yaml")
	if secret.StringData["token"] == "" {
		t.Fatalf("sample Secret %s has no stringData.token", secret.Name)
	}
	if reg := scim.Registration(); !reg.Configured(conn.Spec.Provider) || reg.CredentialsSecret(conn.Spec.Provider) != secret.Name {
		t.Fatalf("sample connection is not a scim one using the sample Secret: %+v", conn.Spec.Provider)
	}
	for _, r := range conn.Spec.Roles {
		if r.SCIM == nil || (r.SCIM.Group == "") == (r.SCIM.GroupID == "") {
			t.Errorf("sample role %q must set exactly one of scim.group and scim.groupID", r.Name)
		}
	}
	var read string
	c, err := scim.New(context.Background(), provider.Config{
		Connection: &conn,
		Secrets: func(_ context.Context, name string) (map[string][]byte, error) {
			read = name
			return map[string][]byte{"token": []byte(secret.StringData["token"])}, nil
		},
	})
	if err != nil {
		t.Fatalf("scim.New with the sample: %v", err)
	}
	_ = c.Close()
	if read != "" {
		t.Errorf("New read Secret %q; the token should be read by each call, not at construction", read)
	}
}
