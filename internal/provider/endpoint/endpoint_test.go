package endpoint

import (
	"errors"
	"strings"
	"testing"
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
	if err := a.Check(Endpoint{Field: "spec.provider.scim.url", Host: "127.0.0.1"}); err != nil {
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
	for field, ep := range map[string]func(string) (Endpoint, error){
		"spec.provider.scim.url":      func(f string) (Endpoint, error) { return FromURL(f, "https://attacker.example/scim") },
		"spec.provider.ldap.url":      func(f string) (Endpoint, error) { return FromURL(f, "ldaps://attacker.example:636") },
		"spec.provider.postgres.host": func(f string) (Endpoint, error) { return FromHost(f, "Attacker.Example.") },
	} {
		refused, err := ep(field)
		if err != nil {
			t.Fatalf("%s: %v", field, err)
		}
		err = a.Check(refused)
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
	allowed, err := FromHost("spec.provider.postgres.host", "DB.corp.example.")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Check(allowed); err != nil {
		t.Errorf("an allowed host: %v", err)
	}
}

func TestEndpointsNameTheirHost(t *testing.T) {
	if ep, err := FromURL("spec.provider.ldap.url", "ldap://[::1]:389"); err != nil || ep.Host != "::1" {
		t.Errorf("FromURL of an IPv6 URL = %+v, %v; want host ::1", ep, err)
	}
	for name, err := range map[string]error{
		"a URL without a host": second(FromURL("spec.provider.scim.url", "/scim/v2")),
		"a blank host":         second(FromHost("spec.provider.postgres.host", "  ")),
		"a malformed URL":      second(FromURL("spec.provider.scim.url", "http://a b\x7f")),
	} {
		if err == nil || !strings.Contains(err.Error(), "spec.provider.") {
			t.Errorf("%s: %v, want an error naming the field", name, err)
		}
	}
}

func second(_ Endpoint, err error) error { return err }
