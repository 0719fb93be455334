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

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

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
// is already a member is a success. The Grant holds the URL, the subject's DN
// and the group's DN, which Revoke and Check then act on.
func (c *client) Grant(ctx context.Context, e provider.Entitlement) (provider.Grant, error) {
	group, err := groupDN(e.Role)
	if err != nil {
		return provider.Grant{}, err
	}
	s, err := c.connect(ctx)
	if err != nil {
		return provider.Grant{}, err
	}
	defer s.close()
	user, err := c.findUser(s, e.Subject)
	if err != nil {
		return provider.Grant{}, fmt.Errorf("grant %s: %w", group, err)
	}
	if !user.found() {
		return provider.Grant{}, provider.Permanentf("grant %s: subject %q: %s", group, e.Subject, user.describe())
	}
	if err := c.addMember(s, group, user.dn); err != nil {
		return provider.Grant{}, err
	}
	return provider.Grant{Target: accessv1alpha1.GrantTarget{
		Endpoint: c.cfg.url,
		Subject:  &accessv1alpha1.TargetObject{ID: user.dn, Name: e.Subject},
		Group:    &accessv1alpha1.TargetObject{ID: group},
	}}, nil
}

// Revoke deletes the subject's DN from the group's member attribute. With a
// stored target it deletes the stored DN from the stored group at the stored
// URL, whatever the connection's filter finds now. Without one it searches for
// the subject; a subject that is not a member, or has no entry, is a success.
func (c *client) Revoke(ctx context.Context, e provider.Entitlement) error {
	if stored, ok := storedTarget(e); ok {
		at, _ := c.atEndpoint(stored.Endpoint)
		return at.revokeStored(ctx, stored)
	}
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

func (c *client) revokeStored(ctx context.Context, stored *accessv1alpha1.GrantTarget) error {
	s, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	return c.deleteMember(s, stored.Group.ID, stored.Subject.ID)
}

// Check reads the group fresh and reports whether the subject's DN is a member.
// With a stored target that is the stored DN in the stored group at the stored
// URL; a subject the connection's filter no longer finds is not proof of
// anything. When the subject is not a member, Residual names groups nested in
// the role's group that still hold the subject.
func (c *client) Check(ctx context.Context, e provider.Entitlement) (provider.Observation, error) {
	if stored, ok := storedTarget(e); ok {
		return c.checkStored(ctx, e.Subject, stored)
	}
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
	return c.observeWithResidual(s, group, user.dn)
}
