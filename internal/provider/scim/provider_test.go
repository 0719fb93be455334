package scim_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/scim"
	"github.com/elevator-dev/elevator/internal/provider/scim/scimtest"
)

const (
	namespace  = "payments"
	secretName = "scim-creds"
)

// peer is a real SCIM server the provider is tested against.
type peer struct {
	name  string
	start func(t testing.TB, token string) string
}

var peers = []peer{
	{name: "elimity", start: func(t testing.TB, token string) string { return scimtest.StartElimity(t, token) }},
	// The same library server, answering a PATCH that changes nothing with
	// 409/400 as some SaaS servers do, instead of 204.
	{name: "elimity-strict", start: func(t testing.TB, token string) string { return scimtest.StartElimity(t, token, scimtest.Strict()) }},
	{name: "scimmy", start: scimtest.StartScimmy},
}

// env is one fresh server and a provider client for it.
type env struct {
	base   string
	token  string
	admin  *scimtest.Admin
	client provider.Client
}

func newEnv(t *testing.T, p peer) *env {
	t.Helper()
	token := randomToken(t)
	base := p.start(t, token)
	return &env{base: base, token: token, admin: scimtest.NewAdmin(base, token), client: newClient(t, base, token)}
}

func newClient(t *testing.T, base, token string) provider.Client {
	t.Helper()
	c, err := scim.New(context.Background(), provider.Config{
		Connection: connection(base, ""),
		Secrets:    secrets(map[string]map[string][]byte{secretName: {"token": []byte(token)}}),
	})
	if err != nil {
		t.Fatalf("scim.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func connection(base, caBundle string) *accessv1alpha1.SaaSConnection {
	return &accessv1alpha1.SaaSConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "billing", Namespace: namespace},
		Spec: accessv1alpha1.SaaSConnectionSpec{
			Provider: accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{
				URL: base,
				// scimmy and the plain elimity servers speak http only.
				AllowInsecureHTTP:    strings.HasPrefix(base, "http://"),
				CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: secretName},
				CABundle:             caBundle,
				Timeout:              "5s",
			}},
			MaxDuration: "4h",
		},
	}
}

// secrets is a provider.SecretReader over fixed Secrets.
func secrets(data map[string]map[string][]byte) provider.SecretReader {
	return func(_ context.Context, name string) (map[string][]byte, error) {
		d, ok := data[name]
		if !ok {
			return nil, errors.New("secret " + name + " not found")
		}
		return d, nil
	}
}

func randomToken(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random token: %v", err)
	}
	return "tok-" + hex.EncodeToString(b)
}

func byName(group string) accessv1alpha1.SCIMRole { return accessv1alpha1.SCIMRole{Group: group} }
func byID(id string) accessv1alpha1.SCIMRole      { return accessv1alpha1.SCIMRole{GroupID: id} }

func ent(subject string, role accessv1alpha1.SCIMRole) provider.Entitlement {
	return provider.Entitlement{
		Subject: subject,
		Role:    accessv1alpha1.Role{Name: "billing-admin", SCIM: &role},
		Holder:  types.NamespacedName{Namespace: namespace, Name: "req-" + subject},
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// mustGrant and the helpers below fail the test on an unexpected error.
func (e *env) mustGrant(t *testing.T, subject string, role accessv1alpha1.SCIMRole) {
	t.Helper()
	if err := grantErr(e.client.Grant(ctx(t), ent(subject, role))); err != nil {
		t.Fatalf("Grant(%q): %v", subject, err)
	}
}

func (e *env) mustRevoke(t *testing.T, subject string, role accessv1alpha1.SCIMRole) {
	t.Helper()
	if err := e.client.Revoke(ctx(t), ent(subject, role)); err != nil {
		t.Fatalf("Revoke(%q): %v", subject, err)
	}
}

func (e *env) mustCheck(t *testing.T, subject string, role accessv1alpha1.SCIMRole) provider.Observation {
	t.Helper()
	obs, err := e.client.Check(ctx(t), ent(subject, role))
	if err != nil {
		t.Fatalf("Check(%q): %v", subject, err)
	}
	return obs
}

func (e *env) wantMembers(t *testing.T, groupID string, want ...string) {
	t.Helper()
	got := e.admin.MemberIDs(t, groupID)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("members of group %s = %v, want %v", groupID, got, want)
	}
}

func wantPresent(t *testing.T, obs provider.Observation, present bool, evidence ...string) {
	t.Helper()
	if obs.Present != present {
		t.Fatalf("Check: Present = %v, want %v (method %q, evidence %q)", obs.Present, present, obs.Method, obs.Evidence)
	}
	for _, s := range evidence {
		if !strings.Contains(obs.Evidence, s) {
			t.Errorf("Check evidence %q does not mention %q", obs.Evidence, s)
		}
	}
}

func wantPermanent(t *testing.T, err error, mentions ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want a Permanent one")
	}
	if !provider.IsPermanent(err) {
		t.Errorf("error is not Permanent: %v", err)
	}
	for _, s := range mentions {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

// injections are subjects shaped to widen a filter built by naive string
// concatenation. Each must stay one inert literal.
var injections = []string{
	`alice) or (userName pr`,
	`bob" or userName pr "`,
	`x' OR '1'='1`,
}

type providerCase struct {
	name string
	run  func(t *testing.T, e *env)
}

var providerCases = []providerCase{
	{"grant then check present", func(t *testing.T, e *env) {
		alice := e.admin.CreateUser(t, "alice")
		g := e.admin.CreateGroup(t, "billing-admins")
		e.mustGrant(t, "alice", byName("billing-admins"))
		e.wantMembers(t, g, alice)
		obs := e.mustCheck(t, "alice", byName("billing-admins"))
		wantPresent(t, obs, true, "is among them", alice, `"billing-admins"`)
		if obs.Method != "GET /Groups/"+g {
			t.Errorf("Check method = %q, want %q", obs.Method, "GET /Groups/"+g)
		}
	}},
	{"grant twice keeps one membership", func(t *testing.T, e *env) {
		alice := e.admin.CreateUser(t, "alice")
		g := e.admin.CreateGroup(t, "billing-admins")
		e.mustGrant(t, "alice", byName("billing-admins"))
		e.mustGrant(t, "alice", byName("billing-admins"))
		e.wantMembers(t, g, alice)
	}},
	{"revoke then check absent", func(t *testing.T, e *env) {
		alice := e.admin.CreateUser(t, "alice")
		g := e.admin.CreateGroup(t, "billing-admins")
		e.mustGrant(t, "alice", byName("billing-admins"))
		e.mustRevoke(t, "alice", byName("billing-admins"))
		e.wantMembers(t, g)
		obs := e.mustCheck(t, "alice", byName("billing-admins"))
		wantPresent(t, obs, false, "is not among them", alice, "has 0 members")
	}},
	{"revoke twice", func(t *testing.T, e *env) {
		e.admin.CreateUser(t, "alice")
		g := e.admin.CreateGroup(t, "billing-admins")
		e.mustGrant(t, "alice", byName("billing-admins"))
		e.mustRevoke(t, "alice", byName("billing-admins"))
		e.mustRevoke(t, "alice", byName("billing-admins"))
		e.wantMembers(t, g)
	}},
	{"revoke of a user who was never a member", func(t *testing.T, e *env) {
		e.admin.CreateUser(t, "alice")
		bob := e.admin.CreateUser(t, "bob")
		g := e.admin.CreateGroup(t, "billing-admins", bob)
		e.mustRevoke(t, "alice", byName("billing-admins"))
		e.wantMembers(t, g, bob)
		wantPresent(t, e.mustCheck(t, "alice", byName("billing-admins")), false, "has 1 members")
	}},
	{"revoking one of two members leaves the other", func(t *testing.T, e *env) {
		alice := e.admin.CreateUser(t, "alice")
		bob := e.admin.CreateUser(t, "bob")
		g := e.admin.CreateGroup(t, "billing-admins")
		e.mustGrant(t, "alice", byName("billing-admins"))
		e.mustGrant(t, "bob", byName("billing-admins"))
		e.wantMembers(t, g, alice, bob)
		e.mustRevoke(t, "alice", byName("billing-admins"))
		e.wantMembers(t, g, bob)
		wantPresent(t, e.mustCheck(t, "bob", byName("billing-admins")), true, bob)
		wantPresent(t, e.mustCheck(t, "alice", byName("billing-admins")), false, alice)
	}},
	{"group by id", func(t *testing.T, e *env) {
		alice := e.admin.CreateUser(t, "alice")
		g := e.admin.CreateGroup(t, "billing-admins")
		other := e.admin.CreateGroup(t, "billing-readers")
		e.mustGrant(t, "alice", byID(g))
		e.wantMembers(t, g, alice)
		e.wantMembers(t, other)
		wantPresent(t, e.mustCheck(t, "alice", byID(g)), true, alice)
		wantPresent(t, e.mustCheck(t, "alice", byID(other)), false)
		e.mustRevoke(t, "alice", byID(g))
		e.wantMembers(t, g)
	}},
	{"group by displayName picks that group only", func(t *testing.T, e *env) {
		alice := e.admin.CreateUser(t, "alice")
		admins := e.admin.CreateGroup(t, "billing-admins")
		readers := e.admin.CreateGroup(t, "billing-readers")
		e.mustGrant(t, "alice", byName("billing-readers"))
		e.wantMembers(t, readers, alice)
		e.wantMembers(t, admins)
	}},
	{"unknown group by displayName is permanent", func(t *testing.T, e *env) {
		e.admin.CreateUser(t, "alice")
		e.admin.CreateGroup(t, "billing-admins")
		wantPermanent(t, grantErr(e.client.Grant(ctx(t), ent("alice", byName("no-such-group")))), "no-such-group")
		wantPermanent(t, e.client.Revoke(ctx(t), ent("alice", byName("no-such-group"))), "no-such-group")
		_, err := e.client.Check(ctx(t), ent("alice", byName("no-such-group")))
		wantPermanent(t, err, "no-such-group")
	}},
	{"unknown group by id is permanent", func(t *testing.T, e *env) {
		e.admin.CreateUser(t, "alice")
		wantPermanent(t, grantErr(e.client.Grant(ctx(t), ent("alice", byID("no-such-id")))), "404", "no-such-id")
		_, err := e.client.Check(ctx(t), ent("alice", byID("no-such-id")))
		wantPermanent(t, err, "404", "no-such-id")
	}},
	{"unknown subject", func(t *testing.T, e *env) {
		bob := e.admin.CreateUser(t, "bob")
		g := e.admin.CreateGroup(t, "billing-admins", bob)
		wantPermanent(t, grantErr(e.client.Grant(ctx(t), ent("mallory", byName("billing-admins")))), "mallory", "no user")
		e.wantMembers(t, g, bob)
		e.mustRevoke(t, "mallory", byName("billing-admins"))
		e.wantMembers(t, g, bob)
		wantPresent(t, e.mustCheck(t, "mallory", byName("billing-admins")), false, "not found", "mallory")
	}},
	{"injection-shaped subjects are inert", func(t *testing.T, e *env) {
		e.admin.CreateUser(t, "alice")
		bob := e.admin.CreateUser(t, "bob")
		e.admin.CreateUser(t, "x")
		g := e.admin.CreateGroup(t, "billing-admins", bob)
		for _, subject := range injections {
			wantPermanent(t, grantErr(e.client.Grant(ctx(t), ent(subject, byName("billing-admins")))), "no user")
			e.wantMembers(t, g, bob)
			wantPresent(t, e.mustCheck(t, subject, byName("billing-admins")), false, "not found")
			e.mustRevoke(t, subject, byName("billing-admins"))
			e.wantMembers(t, g, bob)
		}
	}},
	{"a user named like an injection is only ever itself", func(t *testing.T, e *env) {
		e.admin.CreateUser(t, "alice")
		e.admin.CreateUser(t, "bob")
		g := e.admin.CreateGroup(t, "billing-admins")
		for _, subject := range []string{`bob" or userName pr "`, `corp\bob`} {
			id := e.admin.CreateUser(t, subject)
			e.mustGrant(t, subject, byName("billing-admins"))
			e.wantMembers(t, g, id)
			wantPresent(t, e.mustCheck(t, subject, byName("billing-admins")), true, id)
			wantPresent(t, e.mustCheck(t, "bob", byName("billing-admins")), false)
			e.mustRevoke(t, subject, byName("billing-admins"))
			e.wantMembers(t, g)
		}
	}},
	{"wrong token fails every call without showing the token", func(t *testing.T, e *env) {
		e.admin.CreateUser(t, "alice")
		e.admin.CreateGroup(t, "billing-admins")
		wrong := randomToken(t)
		c := newClient(t, e.base, wrong)
		errs := []error{
			grantErr(c.Grant(ctx(t), ent("alice", byName("billing-admins")))),
			c.Revoke(ctx(t), ent("alice", byName("billing-admins"))),
		}
		_, err := c.Check(ctx(t), ent("alice", byName("billing-admins")))
		errs = append(errs, err)
		for _, err := range errs {
			wantPermanent(t, err, "401", namespace+"/"+secretName)
			if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), e.token) {
				t.Errorf("error shows a token: %v", err)
			}
		}
	}},
	{"health", func(t *testing.T, e *env) {
		if err := e.client.Health(ctx(t)); err != nil {
			t.Fatalf("Health: %v", err)
		}
	}},
	{"health with a wrong token names the Secret, not the token", func(t *testing.T, e *env) {
		wrong := randomToken(t)
		err := newClient(t, e.base, wrong).Health(ctx(t))
		if err == nil {
			t.Fatal("Health with a wrong token succeeded")
		}
		for _, s := range []string{"401 Unauthorized", "GET /ServiceProviderConfig", e.base, namespace + "/" + secretName} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Health error %q does not mention %q", err, s)
			}
		}
		if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), e.token) {
			t.Errorf("Health error shows a token: %v", err)
		}
	}},
	{"health with a URL that is not the SCIM base", func(t *testing.T, e *env) {
		root := strings.TrimSuffix(e.base, "/scim/v2")
		err := newClient(t, root, e.token).Health(ctx(t))
		if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "SCIM base URL") {
			t.Fatalf("Health against %s = %v, want a 404 naming the SCIM base URL", root, err)
		}
	}},
}

// TestProvider runs every case against every real server, each case on a
// fresh server.
func TestProvider(t *testing.T) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			for _, tc := range providerCases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, newEnv(t, p)) })
			}
		})
	}
}

// TestHealthServerDown: a server that stopped is a transient error that says
// it can't be reached.
func TestHealthServerDown(t *testing.T) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			token := randomToken(t)
			var base string
			t.Run("start and stop", func(t *testing.T) { base = p.start(t, token) })
			err := newClient(t, base, token).Health(ctx(t))
			if err == nil {
				t.Fatal("Health against a stopped server succeeded")
			}
			if provider.IsPermanent(err) {
				t.Errorf("a stopped server is marked Permanent: %v", err)
			}
			if !strings.Contains(err.Error(), "cannot reach SCIM server at "+base) || strings.Contains(err.Error(), token) {
				t.Errorf("Health error = %q, want it to say it cannot reach %s and not show the token", err, base)
			}
		})
	}
}

// TestCABundle: an HTTPS server is trusted through caBundle and refused
// without it.
func TestCABundle(t *testing.T) {
	token := randomToken(t)
	base, caPEM := scimtest.StartElimityTLS(t, token)
	newTLSClient := func(ca string) provider.Client {
		c, err := scim.New(context.Background(), provider.Config{
			Connection: connection(base, ca),
			Secrets:    secrets(map[string]map[string][]byte{secretName: {"token": []byte(token)}}),
		})
		if err != nil {
			t.Fatalf("scim.New: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	if err := newTLSClient(caPEM).Health(ctx(t)); err != nil {
		t.Fatalf("Health with the server's CA bundle: %v", err)
	}
	err := newTLSClient("").Health(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Health without the CA bundle = %v, want a certificate error", err)
	}
}

// grantErr is the error of a Grant, for tests that only care whether it worked.
func grantErr(_ provider.Grant, err error) error { return err }
