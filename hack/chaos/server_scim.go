package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider/scim/scimtest"
)

// scimServer is the scimmy SCIM server with a user per subject and a group
// for the role. scimmy keeps its state in memory only, so the outage closes
// the gate the operator reaches it through (its address refuses connections)
// and leaves the process, and what it holds, running: as a SaaS app's state
// survives its outage. The harness reads scimmy directly, not through the gate.
type scimServer struct {
	srv     *scimtest.Scimmy
	gate    *gate
	token   string
	http    *http.Client
	groupID string
	// userIDs maps SCIM user ids to the workload's subjects.
	userIDs map[string]string
}

const scimGroup = "chaos-admins"

func startSCIM(_ context.Context, dir string) (server, error) {
	dir = filepath.Join(dir, "scimmy")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("scimmy directory: %w", err)
	}
	token := "tok-" + randomHex(16)
	srv, err := scimtest.RunScimmy(dir, "SCIMMY_TOKEN="+token)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(srv.BaseURL)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("scimmy's URL: %w", err), srv.Stop())
	}
	g, err := newGate(u.Host)
	if err != nil {
		return nil, errors.Join(err, srv.Stop())
	}
	s := &scimServer{srv: srv, gate: g, token: token, http: &http.Client{Timeout: 5 * time.Second}, userIDs: map[string]string{}}
	if err := s.seed(); err != nil {
		return nil, errors.Join(fmt.Errorf("seed scimmy: %w", err), s.close())
	}
	return s, nil
}

func (s *scimServer) seed() error {
	var bystander string
	for _, name := range append(workloadSubjects(), ldapBystander) {
		id, err := s.create("/Users", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": name,
		})
		if err != nil {
			return err
		}
		if name == ldapBystander {
			bystander = id
			continue
		}
		s.userIDs[id] = name
	}
	id, err := s.create("/Groups", map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": scimGroup, "members": []map[string]string{{"value": bystander}},
	})
	s.groupID = id
	return err
}

func (s *scimServer) create(path string, body any) (string, error) {
	var created struct {
		ID string `json:"id"`
	}
	if err := s.call(http.MethodPost, path, body, http.StatusCreated, &created); err != nil {
		return "", err
	}
	if created.ID == "" {
		return "", fmt.Errorf("POST %s answered without an id", path)
	}
	return created.ID, nil
}

// call sends one request straight to scimmy and decodes the answer.
func (s *scimServer) call(method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.srv.BaseURL+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s answered %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return nil
}

func (s *scimServer) kind() string { return targetSCIM }

// providerSpec points at the gate over plain HTTP on loopback.
func (s *scimServer) providerSpec(secret string) accessv1alpha1.ProviderSpec {
	path := strings.TrimPrefix(s.srv.BaseURL, "http://")
	if i := strings.Index(path, "/"); i >= 0 {
		path = path[i:]
	}
	return accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{
		URL: "http://" + s.gate.addr + path, AllowInsecureHTTP: true,
		CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: secret}, Timeout: "2s",
	}}
}

func (s *scimServer) role() accessv1alpha1.Role {
	return accessv1alpha1.Role{Name: downstreamRole, SCIM: &accessv1alpha1.SCIMRole{Group: scimGroup}}
}

func (s *scimServer) credentials() map[string][]byte {
	return map[string][]byte{"token": []byte(s.token)}
}

// members is GET /Groups/{id}, straight from scimmy.
func (s *scimServer) members(_ context.Context) (map[string]bool, error) {
	var g struct {
		Members []struct {
			Value string `json:"value"`
		} `json:"members"`
	}
	if err := s.call(http.MethodGet, "/Groups/"+url.PathEscape(s.groupID), nil, http.StatusOK, &g); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, m := range g.Members {
		if name, ok := s.userIDs[m.Value]; ok {
			out[name] = true
		}
	}
	return out, nil
}

func (s *scimServer) down() error              { return s.gate.closeGate() }
func (s *scimServer) up(context.Context) error { return s.gate.openGate() }

func (s *scimServer) addOtherPath(context.Context, string) (string, error) {
	return "", errNoOtherPath
}

func (s *scimServer) removeOtherPath(context.Context, string) error { return errNoOtherPath }

func (s *scimServer) close() error {
	return errors.Join(s.gate.closeGate(), s.srv.Stop())
}
