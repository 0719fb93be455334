package ldap_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/ldap"
	"github.com/elevator-dev/elevator/internal/provider/ldap/slapdtest"
)

// srv is one slapd, with TLS, shared by the tests of this package; each test
// makes its own groups on it.
var srv *slapdtest.Server

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ldap-provider-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(os.Stderr, "remove %s: %v\n", dir, err)
		}
	}()
	srv, err = slapdtest.New(dir, slapdtest.Options{TLS: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start slapd: %v\n", err)
		return 1
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop slapd: %v\n", err)
		}
	}()
	return m.Run()
}

const secretName = "ldap-bind"

// spec is the connection's ldap block for srv, as the provider's bind account,
// over StartTLS with the test CA: the secure setting every connection needs
// unless it sets allowInsecure.
func spec() *accessv1alpha1.LDAPProvider {
	return &accessv1alpha1.LDAPProvider{
		URL:                  srv.URL,
		StartTLS:             true,
		CABundle:             srv.CAPEM,
		BindDN:               slapdtest.ServiceDN,
		CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: secretName},
		UserBaseDN:           slapdtest.PeopleDN,
		Timeout:              "5s",
	}
}

// secretsWith returns a SecretReader holding one Secret, secretName.
func secretsWith(data map[string][]byte) provider.SecretReader {
	return func(_ context.Context, name string) (map[string][]byte, error) {
		if name != secretName {
			return nil, fmt.Errorf("secrets %q not found", name)
		}
		return data, nil
	}
}

func connection(s *accessv1alpha1.LDAPProvider) *accessv1alpha1.SaaSConnection {
	return &accessv1alpha1.SaaSConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "directory", Namespace: "team"},
		Spec:       accessv1alpha1.SaaSConnectionSpec{Provider: accessv1alpha1.ProviderSpec{LDAP: s}},
	}
}

// newClientFor builds a client through the provider's Registration.
func newClientFor(t *testing.T, s *accessv1alpha1.LDAPProvider, secrets provider.SecretReader) provider.Client {
	t.Helper()
	c, err := ldap.Registration().New(context.Background(), provider.Config{Connection: connection(s), Secrets: secrets})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newClient is a client for srv with the right password and the given changes
// to the connection.
func newClient(t *testing.T, mutate ...func(*accessv1alpha1.LDAPProvider)) provider.Client {
	t.Helper()
	s := spec()
	for _, f := range mutate {
		f(s)
	}
	return newClientFor(t, s, secretsWith(map[string][]byte{"password": []byte(srv.ServicePassword)}))
}

func entitlement(subject, group string) provider.Entitlement {
	return provider.Entitlement{
		Subject: subject,
		Role:    accessv1alpha1.Role{Name: "admins", LDAP: &accessv1alpha1.LDAPRole{GroupDN: group}},
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func dnOf(key string) string {
	p, ok := slapdtest.People[key]
	if !ok {
		panic("no fixture person " + key)
	}
	return p.DN()
}

// normDNs puts DNs in one form, for comparing lists of them in any order.
// The fixture's naming values are all case-insensitive.
func normDNs(dns []string) []string {
	out := make([]string, len(dns))
	for i, d := range dns {
		p, err := goldap.ParseDN(d)
		if err != nil {
			out[i] = "unparsable:" + d
			continue
		}
		out[i] = strings.ToLower(p.String())
	}
	slices.Sort(out)
	return out
}

func sameDNs(got, want []string) bool { return slices.Equal(normDNs(got), normDNs(want)) }

// wantMembers fails the test unless the group, read as RootDN on a new
// connection, has exactly the given members.
func wantMembers(t *testing.T, group string, want ...string) {
	t.Helper()
	got := srv.Members(t, group)
	if !sameDNs(got, want) {
		t.Fatalf("members of %s = %q, want %q", group, got, want)
	}
}

// mustCheck runs Check and fails the test unless it says present == want.
func mustCheck(t *testing.T, c provider.Client, e provider.Entitlement, want bool) provider.Observation {
	t.Helper()
	obs, err := c.Check(ctx(t), e)
	if err != nil {
		t.Fatalf("check %s in %s: %v", e.Subject, e.Role.LDAP.GroupDN, err)
	}
	if obs.Present != want {
		t.Fatalf("check %s in %s: present = %v, want %v (evidence: %s)", e.Subject, e.Role.LDAP.GroupDN, obs.Present, want, obs.Evidence)
	}
	if obs.Method == "" || obs.Evidence == "" {
		t.Fatalf("check %s: empty method or evidence: %+v", e.Subject, obs)
	}
	return obs
}

func wantPermanent(t *testing.T, err error, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want a permanent one containing %q", contains)
	}
	if !provider.IsPermanent(err) {
		t.Fatalf("error is not permanent: %v", err)
	}
	wantContains(t, err, contains...)
}

func wantContains(t *testing.T, err error, contains ...string) {
	t.Helper()
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not contain %q", err, s)
		}
	}
}

func wantNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("an error reveals the bind password (not printed here); the error must never contain it")
		}
	}
}

// grantErr is the error of a Grant, for tests that only care whether it worked.
func grantErr(_ provider.Grant, err error) error { return err }
