// Package rbac checks the RBAC the project ships: status is written only by the
// operator, and people get no more than they need.
package rbac

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/elevator-dev/elevator/internal/testenv"
)

type role struct {
	file  string
	kind  string
	name  string
	rules []rbacv1.PolicyRule
}

// shippedRoles reads every Role and ClusterRole under config/.
func shippedRoles(t *testing.T) []role {
	t.Helper()
	var out []role
	root := filepath.Join(testenv.ModuleRoot(), "config")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			var head struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
				Rules []rbacv1.PolicyRule `json:"rules"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				continue // not a Kubernetes object (kustomize config)
			}
			if head.Kind == "Role" || head.Kind == "ClusterRole" {
				rel, _ := filepath.Rel(root, path)
				out = append(out, role{file: rel, kind: head.Kind, name: head.Metadata.Name, rules: head.Rules})
			}
		}
	})
	if err != nil {
		t.Fatalf("read config/: %v", err)
	}
	return out
}

func grants(r rbacv1.PolicyRule, group, resource string) bool {
	return (slices.Contains(r.APIGroups, group) || slices.Contains(r.APIGroups, "*")) &&
		(slices.Contains(r.Resources, resource) || slices.Contains(r.Resources, "*"))
}

func TestOnlyTheOperatorWritesStatus(t *testing.T) {
	roles := shippedRoles(t)
	if len(roles) < 4 {
		t.Fatalf("found only %d roles under config/; the walk is broken", len(roles))
	}
	var holders []string
	for _, r := range roles {
		for _, rule := range r.rules {
			if grants(rule, "access.elevator.dev", "elevationrequests/status") {
				holders = append(holders, r.kind+"/"+r.name+" ("+r.file+")")
			}
		}
	}
	if want := []string{"ClusterRole/manager-role (rbac/role.yaml)"}; !slices.Equal(holders, want) {
		t.Fatalf("elevationrequests/status is granted by %v; only the operator's %v may have it", holders, want)
	}
}

func TestBindIsLimitedToNamedClusterRoles(t *testing.T) {
	for _, r := range shippedRoles(t) {
		for _, rule := range r.rules {
			if slices.Contains(rule.Verbs, "bind") || slices.Contains(rule.Verbs, "escalate") || slices.Contains(rule.Verbs, "*") {
				if len(rule.ResourceNames) == 0 {
					t.Errorf("%s/%s (%s) grants %v without resourceNames: the operator could hand out any ClusterRole", r.kind, r.name, r.file, rule.Verbs)
				}
			}
		}
	}
}
