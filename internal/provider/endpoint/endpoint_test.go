package endpoint

import (
	"errors"
	"strings"
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestAllowlistMatches(t *testing.T) {
	a, err := ParseAllowlist(" scim.example.com, *.corp.example ,10.0.0.7,::1")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"scim.example.com":      true,
		"SCIM.EXAMPLE.COM.":     true,
		"evil-scim.example.com": false,
		"example.com":           false,
		"db.corp.example":       true,
		"a.b.corp.example":      true,
		"corp.example":          false,
		"corp.example.evil":     false,
		"xcorp.example":         false,
		"10.0.0.7":              true,
		"10.0.0.8":              false,
		"[::1]":                 true,
		"127.0.0.1":             false,
	} {
		if got := a.Allows(host); got != want {
			t.Errorf("Allows(%q) = %t, want %t", host, got, want)
		}
	}
	if a.String() != "scim.example.com,*.corp.example,10.0.0.7,::1" {
		t.Errorf("String() = %q", a.String())
	}
}

func TestEmptyAllowlistAllowsAny(t *testing.T) {
	a, err := ParseAllowlist("")
	if err != nil || a.Restricts() || !a.Allows("anything.example") {
		t.Fatalf("empty list: %+v, %v; want one that allows every host", a, err)
	}
	if err := a.Check(accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{URL: "http://127.0.0.1:1"}}); err != nil {
		t.Fatalf("empty list refused: %v", err)
	}
}

func TestParseAllowlistRejectsMalformedEntries(t *testing.T) {
	for _, entry := range []string{"https://scim.example.com", "scim.example.com:443", "*", "*.", "*.10.0.0.1", "a/b", "user@host"} {
		if _, err := ParseAllowlist("ok.example," + entry); err == nil || !strings.Contains(err.Error(), "--allowed-endpoint-hosts") {
			t.Errorf("ParseAllowlist(%q) = %v, want an error naming the flag", entry, err)
		}
	}
}

func TestCheckNamesHostFieldAndFlag(t *testing.T) {
	a, err := ParseAllowlist("*.corp.example")
	if err != nil {
		t.Fatal(err)
	}
	for field, spec := range map[string]accessv1alpha1.ProviderSpec{
		"spec.provider.scim.url":      {SCIM: &accessv1alpha1.SCIMProvider{URL: "https://attacker.example/scim"}},
		"spec.provider.ldap.url":      {LDAP: &accessv1alpha1.LDAPProvider{URL: "ldaps://attacker.example:636"}},
		"spec.provider.postgres.host": {Postgres: &accessv1alpha1.PostgresProvider{Host: "attacker.example"}},
	} {
		err := a.Check(spec)
		if !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%s: got %v, want ErrNotAllowed", field, err)
			continue
		}
		for _, want := range []string{`"attacker.example"`, field, "--allowed-endpoint-hosts (*.corp.example)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not say %q", field, err, want)
			}
		}
	}
	if err := a.Check(accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}}); err != nil {
		t.Errorf("the kubernetes provider has no endpoint to restrict: %v", err)
	}
	if err := a.Check(accessv1alpha1.ProviderSpec{Postgres: &accessv1alpha1.PostgresProvider{Host: "DB.corp.example."}}); err != nil {
		t.Errorf("an allowed host: %v", err)
	}
}

func TestInsecure(t *testing.T) {
	for name, tc := range map[string]struct {
		spec accessv1alpha1.ProviderSpec
		want string
	}{
		"scim https":               {accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{URL: "https://x/scim"}}, ""},
		"scim http":                {accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{URL: "http://x/scim", AllowInsecureHTTP: true}}, "plain http"},
		"ldaps":                    {accessv1alpha1.ProviderSpec{LDAP: &accessv1alpha1.LDAPProvider{URL: "ldaps://x"}}, ""},
		"ldap starttls":            {accessv1alpha1.ProviderSpec{LDAP: &accessv1alpha1.LDAPProvider{URL: "ldap://x", StartTLS: true}}, ""},
		"ldap plain":               {accessv1alpha1.ProviderSpec{LDAP: &accessv1alpha1.LDAPProvider{URL: "ldap://x", AllowInsecure: true}}, "bind password"},
		"postgres verify-full":     {accessv1alpha1.ProviderSpec{Postgres: &accessv1alpha1.PostgresProvider{SSLMode: "verify-full"}}, ""},
		"postgres verify-ca + CA":  {accessv1alpha1.ProviderSpec{Postgres: &accessv1alpha1.PostgresProvider{SSLMode: "verify-ca", CABundle: "pem"}}, ""},
		"postgres verify-ca roots": {accessv1alpha1.ProviderSpec{Postgres: &accessv1alpha1.PostgresProvider{SSLMode: "verify-ca"}}, "system roots"},
		"postgres require":         {accessv1alpha1.ProviderSpec{Postgres: &accessv1alpha1.PostgresProvider{SSLMode: "require"}}, "not checked"},
		"postgres require + CA":    {accessv1alpha1.ProviderSpec{Postgres: &accessv1alpha1.PostgresProvider{SSLMode: "require", CABundle: "pem"}}, "host name is not"},
		"postgres disable":         {accessv1alpha1.ProviderSpec{Postgres: &accessv1alpha1.PostgresProvider{SSLMode: "disable"}}, "unencrypted"},
		"kubernetes":               {accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}}, ""},
	} {
		got := strings.Join(Insecure(tc.spec), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: Insecure = %q, want %q", name, got, tc.want)
		}
	}
}
