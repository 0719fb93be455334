// Package endpoint is the host a SaaSConnection's provider connects to, and the
// operator's --allowed-endpoint-hosts flag that may restrict it. Each provider
// package says which field of its spec names the host (provider.Registration's
// Endpoint).
package endpoint

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// FlagName is the operator flag that restricts connection endpoints.
const FlagName = "allowed-endpoint-hosts"

// ErrNotAllowed marks an endpoint whose host the allowlist refuses.
var ErrNotAllowed = errors.New("endpoint host not allowed")

// Endpoint is the downstream address a connection's provider connects to.
type Endpoint struct {
	// Field is the spec field that names the host, e.g. spec.provider.scim.url.
	Field string
	// Host is the host name or IP address, lower case, without port, brackets
	// or a trailing dot.
	Host string
}

// FromURL is the endpoint named by the URL in field, e.g. spec.provider.scim.url.
func FromURL(field, raw string) (Endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%s %q is not a URL: %w", field, raw, err)
	}
	return FromHost(field, u.Hostname())
}

// FromHost is the endpoint named by the host in field, e.g.
// spec.provider.postgres.host.
func FromHost(field, host string) (Endpoint, error) {
	ep := Endpoint{Field: field, Host: normalize(host)}
	if ep.Host == "" {
		return Endpoint{}, fmt.Errorf("%s names no host", field)
	}
	return ep, nil
}

// normalize makes host names comparable: DNS names are case-insensitive and a
// trailing dot names the same host.
func normalize(host string) string {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
}

// Allowlist is the parsed --allowed-endpoint-hosts flag: host names, IP
// addresses, or "*.suffix" patterns that match any name below suffix (not
// suffix itself). The zero Allowlist allows every host.
type Allowlist struct {
	exact    map[string]bool
	suffixes []string
	patterns []string
}

// ParseAllowlist parses a comma-separated list. An empty list allows any host.
func ParseAllowlist(list string) (Allowlist, error) {
	a := Allowlist{exact: map[string]bool{}}
	for _, raw := range strings.Split(list, ",") {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			continue
		}
		if err := a.add(entry); err != nil {
			return Allowlist{}, fmt.Errorf("--%s entry %q: %w", FlagName, entry, err)
		}
	}
	return a, nil
}

func (a *Allowlist) add(entry string) error {
	host, wildcard := strings.CutPrefix(entry, "*.")
	host = normalize(host)
	switch {
	case host == "":
		return errors.New("names no host")
	case strings.ContainsAny(host, "*/:@ ") && net.ParseIP(host) == nil:
		return errors.New(`must be a host name, an IP address or "*.suffix", without scheme, port or path`)
	case wildcard && net.ParseIP(host) != nil:
		return errors.New(`"*." applies to DNS names, not to IP addresses`)
	}
	a.patterns = append(a.patterns, strings.ToLower(entry))
	if wildcard {
		a.suffixes = append(a.suffixes, "."+host)
		return nil
	}
	a.exact[host] = true
	return nil
}

// Restricts reports whether the allowlist limits hosts at all.
func (a Allowlist) Restricts() bool { return len(a.patterns) > 0 }

// Allows reports whether host may be connected to.
func (a Allowlist) Allows(host string) bool {
	if !a.Restricts() {
		return true
	}
	host = normalize(host)
	if a.exact[host] {
		return true
	}
	for _, suffix := range a.suffixes {
		if strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
			return true
		}
	}
	return false
}

// String is the list as given, for messages.
func (a Allowlist) String() string { return strings.Join(a.patterns, ",") }

// Check returns an error wrapping ErrNotAllowed when ep is outside the
// allowlist, naming the host, the field and the flag.
func (a Allowlist) Check(ep Endpoint) error {
	if a.Allows(ep.Host) {
		return nil
	}
	return fmt.Errorf("%w: host %q of %s is not in the operator's --%s (%s), so the connection is not contacted",
		ErrNotAllowed, ep.Host, ep.Field, FlagName, a)
}
