package scim_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/scim"
)

// TestSample: config/samples/scim_connection.yaml decodes strictly into the API
// types, and the provider accepts its connection and reads its Secret's token.
func TestSample(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "samples", "scim_connection.yaml"))
	if err != nil {
		t.Fatalf("read sample: %v", err)
	}
	docs := bytes.Split(raw, []byte("\n---\n"))
	if len(docs) != 2 {
		t.Fatalf("sample has %d documents, want a Secret and a SaaSConnection", len(docs))
	}
	var secret struct {
		Metadata   struct{ Name string }
		StringData map[string]string `json:"stringData"`
	}
	if err := yaml.Unmarshal(docs[0], &secret); err != nil || secret.StringData["token"] == "" {
		t.Fatalf("sample Secret = %+v (%v), want stringData.token", secret, err)
	}
	var conn accessv1alpha1.SaaSConnection
	if err := yaml.UnmarshalStrict(docs[1], &conn); err != nil {
		t.Fatalf("sample SaaSConnection does not decode strictly: %v", err)
	}
	if provider.KindOf(conn.Spec.Provider) != provider.KindSCIM || conn.Spec.Provider.SCIM.CredentialsSecretRef.Name != secret.Metadata.Name {
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
