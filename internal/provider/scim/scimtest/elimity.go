// Package scimtest starts real SCIM 2.0 servers for the SCIM provider's
// tests, each on a free loopback port, stopped when the test ends:
//
//   - StartElimity: an in-process server built with github.com/elimity-com/scim,
//     which parses and validates requests, filters and PATCH paths; this
//     package only stores Users and Groups in memory and checks a bearer token.
//   - StartScimmy: hack/scimmy-server, a Node.js server built with the scimmy
//     and scimmy-routers packages, run as a separate process.
//
// Admin seeds users and groups and reads group members over the SCIM protocol
// itself, so the same test code works against both servers.
package scimtest

import (
	"crypto/subtle"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// Option changes how the in-process server behaves.
type Option func(*options)

type options struct {
	strict bool
	tls    bool
}

// Strict makes the server answer a PATCH that changes nothing with an error,
// as some SaaS servers do: 409 (scimType uniqueness) for adding a member that
// is already there, 400 (scimType noTarget) for removing one that is not.
// By default it answers 204 No Content.
func Strict() Option { return func(o *options) { o.strict = true } }

// StartElimity starts the in-process SCIM server over plain HTTP and returns
// its base URL, which ends in /scim/v2. Requests must carry
// "Authorization: Bearer <token>".
func StartElimity(t testing.TB, token string, opts ...Option) string {
	t.Helper()
	base, _ := startElimity(t, token, opts...)
	return base
}

// StartElimityTLS starts the in-process SCIM server over HTTPS with a
// self-signed certificate, and returns its base URL and the certificate in
// PEM, to trust as a CA bundle.
func StartElimityTLS(t testing.TB, token string, opts ...Option) (baseURL, caPEM string) {
	t.Helper()
	return startElimity(t, token, append(opts, func(o *options) { o.tls = true })...)
}

func startElimity(t testing.TB, token string, opts ...Option) (string, string) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	server, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			SupportFiltering: true,
			SupportPatch:     true,
			AuthenticationSchemes: []scim.AuthenticationScheme{{
				Type:        scim.AuthenticationTypeOauthBearerToken,
				Name:        "OAuth Bearer Token",
				Description: "Authentication with a bearer token",
				Primary:     true,
			}},
		},
		ResourceTypes: []scim.ResourceType{
			{
				ID:       optional.NewString("User"),
				Name:     "User",
				Endpoint: "/Users",
				Schema:   schema.CoreUserSchema(),
				Handler:  newMemoryHandler(schema.CoreUserSchema(), "userName", o.strict),
			},
			{
				ID:       optional.NewString("Group"),
				Name:     "Group",
				Endpoint: "/Groups",
				Schema:   schema.CoreGroupSchema(),
				Handler:  newMemoryHandler(schema.CoreGroupSchema(), "displayName", o.strict),
			},
		},
	})
	if err != nil {
		t.Fatalf("scimtest: build the elimity SCIM server: %v", err)
	}
	mux := http.NewServeMux()
	// The library serves paths that start with /v2.
	mux.Handle("/scim/", http.StripPrefix("/scim", server))
	srv := httptest.NewUnstartedServer(bearer(token, mux))
	var caPEM string
	if o.tls {
		srv.StartTLS()
		caPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv.URL + "/scim/v2", caPEM
}

// bearer lets through only requests with the token, comparing in constant time.
func bearer(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("Content-Type", "application/scim+json")
			w.Header().Set("WWW-Authenticate", `Bearer realm="scimtest"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"invalid or missing bearer token"}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}
