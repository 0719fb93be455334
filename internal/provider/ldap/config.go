package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// Defaults for fields a connection may leave out.
const (
	DefaultUserFilter = "(uid={subject})"
	DefaultTimeout    = 10 * time.Second
	// DefaultPlaceholderMember is the empty DN. OpenLDAP accepts it as a member
	// value of groupOfNames, it names no entry, and nobody can bind as it.
	DefaultPlaceholderMember = ""
	subjectToken             = "{subject}"
	passwordKey              = "password"
)

// settings is a validated LDAPProvider.
type settings struct {
	url           string
	startTLS      bool
	allowInsecure bool
	tls           *tls.Config
	bindDN        string
	secretName    string
	userBaseDN    string
	userFilter    string
	placeholder   string
	// placeholderDN is placeholder parsed, for comparing member values with it.
	placeholderDN *goldap.DN
	timeout       time.Duration
	// accessLogBase is spec.provider.ldap.accessLogBaseDN as written; it is
	// checked when activity is read, not here, so that a wrong one does not
	// stop grants and revocations.
	accessLogBase string
}

// parseSettings checks a connection's ldap block. Every error is Permanent: a
// configuration that is wrong now stays wrong until someone edits it.
func parseSettings(conn *accessv1alpha1.SaaSConnection) (*settings, error) {
	spec := conn.Spec.Provider.LDAP
	if spec == nil {
		return nil, provider.Permanentf("connection %s/%s has no spec.provider.ldap", conn.Namespace, conn.Name)
	}
	s := &settings{
		url:           spec.URL,
		startTLS:      spec.StartTLS,
		allowInsecure: spec.AllowInsecure,
		bindDN:        spec.BindDN,
		secretName:    spec.CredentialsSecretRef.Name,
		userBaseDN:    spec.UserBaseDN,
		userFilter:    spec.UserFilter,
		placeholder:   DefaultPlaceholderMember,
		timeout:       DefaultTimeout,
		accessLogBase: spec.AccessLogBaseDN,
	}
	if s.userFilter == "" {
		s.userFilter = DefaultUserFilter
	}
	if spec.PlaceholderMember != nil {
		s.placeholder = *spec.PlaceholderMember
	}
	checks := []func() error{
		func() error { return s.parseURL(spec.CABundle) },
		func() error { return checkDN("bindDN", s.bindDN) },
		func() error { return checkDN("userBaseDN", s.userBaseDN) },
		s.checkFilter,
		s.parsePlaceholder,
		func() error { return s.parseTimeout(spec.Timeout) },
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return nil, provider.Permanent(err)
		}
	}
	if s.secretName == "" {
		return nil, provider.Permanentf("credentialsSecretRef.name is empty")
	}
	return s, nil
}

// parseURL checks the URL and builds the TLS settings for ldaps:// and StartTLS.
func (s *settings) parseURL(caBundle string) error {
	u, err := url.Parse(s.url)
	if err != nil {
		return fmt.Errorf("url %q: %w", s.url, err)
	}
	if u.Scheme != "ldap" && u.Scheme != "ldaps" {
		return fmt.Errorf("url %q: scheme must be ldap or ldaps", s.url)
	}
	if u.Host == "" {
		return fmt.Errorf("url %q names no host", s.url)
	}
	if u.Scheme == "ldaps" && s.startTLS {
		return fmt.Errorf("url %q is already TLS (ldaps); startTLS applies to ldap:// only", s.url)
	}
	if u.Scheme == "ldap" && !s.startTLS && !s.allowInsecure {
		return fmt.Errorf("url %q is plain ldap:// without startTLS, which sends the bind password unencrypted: use ldaps://, set startTLS: true, or set allowInsecure: true", s.url)
	}
	host := u.Host
	if h, _, err := net.SplitHostPort(u.Host); err == nil {
		host = h
	}
	s.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if caBundle != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(caBundle)) {
			return fmt.Errorf("caBundle holds no PEM certificate")
		}
		s.tls.RootCAs = pool
	}
	return nil
}

func checkDN(field, dn string) error {
	if strings.TrimSpace(dn) == "" {
		return fmt.Errorf("%s is empty", field)
	}
	if _, err := goldap.ParseDN(dn); err != nil {
		return fmt.Errorf("%s %q is not a valid DN: %w", field, dn, err)
	}
	return nil
}

// checkFilter makes sure the template holds {subject} and is a filter once it
// is filled in.
func (s *settings) checkFilter() error {
	if !strings.Contains(s.userFilter, subjectToken) {
		return fmt.Errorf("userFilter %q does not contain %s", s.userFilter, subjectToken)
	}
	if _, err := goldap.CompileFilter(s.filterFor("probe")); err != nil {
		return fmt.Errorf("userFilter %q is not a valid LDAP filter: %w", s.userFilter, err)
	}
	return nil
}

// filterFor fills the subject, escaped as RFC 4515 requires, into the filter
// template, so that no subject can change the filter's structure.
func (s *settings) filterFor(subject string) string {
	return strings.ReplaceAll(s.userFilter, subjectToken, goldap.EscapeFilter(subject))
}

func (s *settings) parsePlaceholder() error {
	dn, err := goldap.ParseDN(s.placeholder)
	if err != nil {
		return fmt.Errorf("placeholderMember %q is not a valid DN: %w", s.placeholder, err)
	}
	s.placeholderDN = dn
	return nil
}

func (s *settings) parseTimeout(raw string) error {
	if raw == "" {
		return nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		return fmt.Errorf("timeout %q: %w", raw, err)
	}
	if d <= 0 {
		return fmt.Errorf("timeout %q must be positive", raw)
	}
	s.timeout = d
	return nil
}

// groupDN returns the role's group DN, checked.
func groupDN(role accessv1alpha1.Role) (string, error) {
	if role.LDAP == nil {
		return "", provider.Permanentf("role %q has no ldap block", role.Name)
	}
	if err := checkDN("groupDN of role "+role.Name, role.LDAP.GroupDN); err != nil {
		return "", provider.Permanent(err)
	}
	return role.LDAP.GroupDN, nil
}
