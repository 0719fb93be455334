package ldap

import (
	"testing"
	"time"
)

func TestParentDN(t *testing.T) {
	for in, want := range map[string]string{
		"cn=admins,ou=groups,dc=example,dc=org": "ou=groups,dc=example,dc=org",
		`cn=Smith\, John,ou=people,dc=x`:        "ou=people,dc=x",
		"dc=org":                                "",
		"":                                      "",
		"not a dn":                              "",
	} {
		if got := parentDN(in); got != want {
			t.Errorf("parentDN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseGeneralizedTime(t *testing.T) {
	at := time.Date(2026, 12, 1, 20, 30, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want *time.Time
	}{
		{in: "20261201203000Z", want: &at},
		{in: "20261201213000+0100", want: &at},
		{in: "20261201203000.000000Z", want: &at},
		{in: "", want: nil},
		{in: "yesterday", want: nil},
	}
	for _, tt := range tests {
		got := parseGeneralizedTime(tt.in)
		if (got == nil) != (tt.want == nil) || (got != nil && !got.Equal(*tt.want)) {
			t.Errorf("parseGeneralizedTime(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestAtEndpoint(t *testing.T) {
	c := &client{cfg: &settings{url: "ldaps://ldap.example.org:636"}}
	if same, note := c.atEndpoint(""); same != c || note != "" {
		t.Errorf("no stored endpoint: got another client or note %q", note)
	}
	if same, note := c.atEndpoint(c.cfg.url); same != c || note != "" {
		t.Errorf("same endpoint: got another client or note %q", note)
	}
}
