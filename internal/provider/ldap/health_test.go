package ldap_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/ldap"
	"github.com/elevator-dev/elevator/internal/provider/ldap/slapdtest"
)

func TestHealthy(t *testing.T) {
	if err := newClient(t).Health(ctx(t)); err != nil {
		t.Fatalf("health: %v", err)
	}
}

func TestHealthWrongPassword(t *testing.T) {
	wrong := "not-the-password-" + srv.ServicePassword[:6]
	c := newClientFor(t, spec(), secretsWith(map[string][]byte{"password": []byte(wrong)}))
	err := c.Health(ctx(t))
	wantPermanent(t, err, "bind as "+slapdtest.ServiceDN+" failed: invalid credentials", "Secret "+secretName)
	wantNoSecret(t, err, wrong, srv.ServicePassword)

	// Grant with the wrong password fails the same way, and grants nothing.
	group := srv.AddGroup(t, slapdtest.GroupsDN, "badpw", dnOf("carol"))
	err = grantErr(c.Grant(ctx(t), entitlement("alice", group)))
	wantPermanent(t, err, "invalid credentials")
	wantNoSecret(t, err, wrong, srv.ServicePassword)
	wantMembers(t, group, dnOf("carol"))
}

func TestHealthSecretProblems(t *testing.T) {
	noKey := newClientFor(t, spec(), secretsWith(map[string][]byte{"token": []byte("x")}))
	wantPermanent(t, noKey.Health(ctx(t)), "Secret "+secretName, `no key "password"`)

	unreadable := newClientFor(t, spec(), func(context.Context, string) (map[string][]byte, error) {
		return nil, errors.New("apiserver unavailable")
	})
	err := unreadable.Health(ctx(t))
	wantContains(t, err, "read Secret "+secretName, "apiserver unavailable")
	if provider.IsPermanent(err) {
		t.Fatalf("a failed Secret read should be retried: %v", err)
	}
}

func TestHealthMissingUserBase(t *testing.T) {
	base := "ou=nowhere," + slapdtest.BaseDN
	c := newClient(t, func(s *accessv1alpha1.LDAPProvider) { s.UserBaseDN = base })
	wantPermanent(t, c.Health(ctx(t)), "read userBaseDN "+base, "No Such Object")
}

func TestHealthServerDown(t *testing.T) {
	down := slapdtest.Start(t, slapdtest.Options{})
	url := down.URL
	if err := down.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	c := newClient(t, func(s *accessv1alpha1.LDAPProvider) { s.URL = url })
	err := c.Health(ctx(t))
	wantContains(t, err, "connect to "+url)
	if provider.IsPermanent(err) {
		t.Fatalf("a server that is down should be retried: %v", err)
	}
}

// A server that accepts connections but never answers is cut off by the
// configured timeout, and the error is retried.
func TestHealthHungServerTimesOut(t *testing.T) {
	hung := slapdtest.Start(t, slapdtest.Options{})
	if err := hung.Freeze(); err != nil {
		t.Fatalf("freeze: %v", err)
	}
	t.Cleanup(func() { _ = hung.Thaw() })
	c := newClient(t, func(s *accessv1alpha1.LDAPProvider) {
		s.URL = hung.URL
		s.Timeout = "500ms"
	})
	start := time.Now()
	err := c.Health(ctx(t))
	if err == nil {
		t.Fatal("health of a hung server succeeded")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("health took %v with a 500ms timeout", elapsed)
	}
	if provider.IsPermanent(err) {
		t.Fatalf("a hung server should be retried: %v", err)
	}
}

// The caller's context bounds a call too.
func TestContextCancelStopsACall(t *testing.T) {
	hung := slapdtest.Start(t, slapdtest.Options{})
	if err := hung.Freeze(); err != nil {
		t.Fatalf("freeze: %v", err)
	}
	t.Cleanup(func() { _ = hung.Thaw() })
	c := newClient(t, func(s *accessv1alpha1.LDAPProvider) {
		s.URL = hung.URL
		s.Timeout = "1m"
	})
	cctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Health(cctx)
	if !errors.Is(err, context.DeadlineExceeded) || provider.IsPermanent(err) {
		t.Fatalf("health of a hung server after the context ended = %v, want a retryable context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("health took %v after its context ended at 300ms", elapsed)
	}
}

func TestStartTLSWithCABundle(t *testing.T) {
	c := newClient(t, func(s *accessv1alpha1.LDAPProvider) {
		s.StartTLS = true
		s.CABundle = srv.CAPEM
	})
	if err := c.Health(ctx(t)); err != nil {
		t.Fatalf("health over StartTLS: %v", err)
	}
	group := srv.AddGroup(t, slapdtest.GroupsDN, "starttls", dnOf("carol"))
	e := entitlement("alice", group)
	if err := grantErr(c.Grant(ctx(t), e)); err != nil {
		t.Fatalf("grant over StartTLS: %v", err)
	}
	mustCheck(t, c, e, true)
}

func TestLDAPSWithCABundle(t *testing.T) {
	c := newClient(t, func(s *accessv1alpha1.LDAPProvider) {
		s.URL = srv.LDAPSURL
		s.StartTLS = false
		s.CABundle = srv.CAPEM
	})
	if err := c.Health(ctx(t)); err != nil {
		t.Fatalf("health over ldaps: %v", err)
	}
}

func TestTLSWithoutTrustedCAFails(t *testing.T) {
	for name, mutate := range map[string]func(*accessv1alpha1.LDAPProvider){
		"starttls": func(s *accessv1alpha1.LDAPProvider) { s.CABundle = "" },
		"ldaps":    func(s *accessv1alpha1.LDAPProvider) { s.URL, s.StartTLS, s.CABundle = srv.LDAPSURL, false, "" },
	} {
		t.Run(name, func(t *testing.T) {
			err := newClient(t, mutate).Health(ctx(t))
			wantContains(t, err, "certificate")
		})
	}
}

func TestStartTLSAgainstServerWithoutTLS(t *testing.T) {
	plain := slapdtest.Start(t, slapdtest.Options{})
	c := newClient(t, func(s *accessv1alpha1.LDAPProvider) {
		s.URL = plain.URL
		s.StartTLS = true
	})
	wantPermanent(t, c.Health(ctx(t)), "StartTLS with "+plain.URL, "does not offer StartTLS")
}

// Plain ldap:// sends the bind password unencrypted: it is refused unless the
// connection says allowInsecure, and then it works.
func TestPlainLDAPNeedsAllowInsecure(t *testing.T) {
	plain := func(s *accessv1alpha1.LDAPProvider) { s.StartTLS, s.CABundle = false, "" }
	s := spec()
	plain(s)
	_, err := ldap.Registration().New(ctx(t), provider.Config{Connection: connection(s), Secrets: secretsWith(nil)})
	wantPermanent(t, err, "plain ldap:// without startTLS", "allowInsecure: true")
	c := newClient(t, plain, func(s *accessv1alpha1.LDAPProvider) { s.AllowInsecure = true })
	if err := c.Health(ctx(t)); err != nil {
		t.Fatalf("health over plain ldap:// with allowInsecure: %v", err)
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	for name, mutate := range map[string]func(*accessv1alpha1.LDAPProvider){
		"scheme":             func(s *accessv1alpha1.LDAPProvider) { s.URL = "http://127.0.0.1:389" },
		"no host":            func(s *accessv1alpha1.LDAPProvider) { s.URL = "ldap://" },
		"plain ldap":         func(s *accessv1alpha1.LDAPProvider) { s.StartTLS = false },
		"ldaps and starttls": func(s *accessv1alpha1.LDAPProvider) { s.URL = "ldaps://127.0.0.1:636"; s.StartTLS = true },
		"ca bundle":          func(s *accessv1alpha1.LDAPProvider) { s.CABundle = "not PEM" },
		"bind dn":            func(s *accessv1alpha1.LDAPProvider) { s.BindDN = "elevator" },
		"user base dn":       func(s *accessv1alpha1.LDAPProvider) { s.UserBaseDN = "people" },
		"filter token":       func(s *accessv1alpha1.LDAPProvider) { s.UserFilter = "(uid=alice)" },
		"filter syntax":      func(s *accessv1alpha1.LDAPProvider) { s.UserFilter = "(uid={subject}" },
		"placeholder":        func(s *accessv1alpha1.LDAPProvider) { s.PlaceholderMember = ptr("nobody") },
		"timeout":            func(s *accessv1alpha1.LDAPProvider) { s.Timeout = "soon" },
		"zero timeout":       func(s *accessv1alpha1.LDAPProvider) { s.Timeout = "0s" },
		"no secret":          func(s *accessv1alpha1.LDAPProvider) { s.CredentialsSecretRef.Name = "" },
	} {
		t.Run(name, func(t *testing.T) {
			s := spec()
			mutate(s)
			_, err := ldap.New(context.Background(), provider.Config{Connection: connection(s), Secrets: secretsWith(nil)})
			wantPermanent(t, err, "connection team/directory")
		})
	}
	_, err := ldap.New(context.Background(), provider.Config{Connection: connection(nil), Secrets: secretsWith(nil)})
	wantPermanent(t, err, "no spec.provider.ldap")
}

func TestNoErrorOrEvidenceCarriesThePassword(t *testing.T) {
	c := newClient(t)
	group := srv.AddGroup(t, slapdtest.GroupsDN, "leak", dnOf("carol"))
	var texts []string
	for _, subject := range []string{"alice", "nobody-here", "twin"} {
		e := entitlement(subject, group)
		for _, err := range []error{grantErr(c.Grant(ctx(t), e)), c.Revoke(ctx(t), e)} {
			if err != nil {
				texts = append(texts, err.Error())
			}
		}
		obs, err := c.Check(ctx(t), e)
		if err != nil {
			texts = append(texts, err.Error())
		}
		texts = append(texts, obs.Method, obs.Evidence)
	}
	if len(texts) < 6 {
		t.Fatalf("expected errors and evidence to inspect, got %d texts", len(texts))
	}
	for _, text := range texts {
		if strings.Contains(text, srv.ServicePassword) || strings.Contains(text, srv.RootPassword) {
			t.Fatal("a message carries a password (not printed here)")
		}
	}
}
