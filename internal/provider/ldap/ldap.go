// Package ldap is the provider for LDAP directories (OpenLDAP, Active
// Directory): a role is a group, and holding it means the subject's entry DN
// is a value of the group's member attribute.
//
// Grant finds the subject's entry with the connection's user filter (the
// subject escaped as RFC 4515 requires; exactly one entry must match) and adds
// its DN to member; Revoke deletes that value; Check reads the group entry
// fresh and compares member values with the subject's DN by RFC 4514 DN
// matching, and asks the server to match it as well.
//
// groupOfNames must keep one member, so revoking the last one puts the
// connection's placeholder member in its place in the same Modify; see
// docs/providers/ldap.md.
package ldap

import (
	"context"
	"fmt"

	"github.com/elevator-dev/elevator/internal/provider"
)

// Registration is the ldap provider. A membership is one fact per subject and
// group, so two requests for the same subject and role share it.
func Registration() provider.Registration {
	return provider.Registration{Kind: provider.KindLDAP, Shared: true, New: New}
}

// client talks to one directory. It holds no connection between calls.
type client struct {
	cfg     *settings
	secrets provider.SecretReader
}

var _ provider.Client = (*client)(nil)

// New checks the connection's ldap settings and returns a client. It does not
// contact the server; Health does.
func New(_ context.Context, cfg provider.Config) (provider.Client, error) {
	if cfg.Connection == nil {
		return nil, provider.Permanentf("ldap provider: no connection given")
	}
	if cfg.Secrets == nil {
		return nil, provider.Permanentf("ldap provider: no secret reader given")
	}
	s, err := parseSettings(cfg.Connection)
	if err != nil {
		return nil, fmt.Errorf("connection %s/%s: %w", cfg.Connection.Namespace, cfg.Connection.Name, err)
	}
	return &client{cfg: s, secrets: cfg.Secrets}, nil
}

// Close does nothing: every call opens and closes its own connection.
func (c *client) Close() error { return nil }

// Health connects, binds (after StartTLS when configured) and reads the user
// base entry, which proves the URL, the TLS trust, the credentials and the
// bind account's read access.
func (c *client) Health(ctx context.Context) error {
	s, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.readBase(c.cfg.userBaseDN); err != nil {
		return fmt.Errorf("read userBaseDN %s as %s: %w", c.cfg.userBaseDN, c.cfg.bindDN, err)
	}
	return nil
}

// Grant adds the subject's DN to the group's member attribute. A subject that
// is already a member is a success.
func (c *client) Grant(ctx context.Context, e provider.Entitlement) error {
	group, err := groupDN(e.Role)
	if err != nil {
		return err
	}
	s, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	user, err := c.findUser(s, e.Subject)
	if err != nil {
		return fmt.Errorf("grant %s: %w", group, err)
	}
	if !user.found() {
		return provider.Permanentf("grant %s: subject %q: %s", group, e.Subject, user.describe())
	}
	return c.addMember(s, group, user.dn)
}

// Revoke deletes the subject's DN from the group's member attribute. A subject
// that is not a member, or has no entry at all, is a success.
func (c *client) Revoke(ctx context.Context, e provider.Entitlement) error {
	group, err := groupDN(e.Role)
	if err != nil {
		return err
	}
	s, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	user, err := c.findUser(s, e.Subject)
	if err != nil {
		return fmt.Errorf("revoke %s: %w", group, err)
	}
	if !user.found() {
		return nil
	}
	return c.deleteMember(s, group, user.dn)
}

// Check reads the group fresh and reports whether the subject's DN is a member.
func (c *client) Check(ctx context.Context, e provider.Entitlement) (provider.Observation, error) {
	group, err := groupDN(e.Role)
	if err != nil {
		return provider.Observation{}, err
	}
	s, err := c.connect(ctx)
	if err != nil {
		return provider.Observation{}, err
	}
	defer s.close()
	user, err := c.findUser(s, e.Subject)
	if err != nil {
		return provider.Observation{}, fmt.Errorf("check %s: %w", group, err)
	}
	if !user.found() {
		return provider.Observation{
			Present:  false,
			Method:   user.method(),
			Evidence: fmt.Sprintf("subject %q: %s, so no entry of the subject can be a member of %s", e.Subject, user.describe(), group),
		}, nil
	}
	return c.observe(s, group, user.dn)
}
