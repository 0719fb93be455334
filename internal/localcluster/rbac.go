package localcluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// kustomizeNamespace is the placeholder namespace the config/ bases use; the
// config/default overlay replaces it.
const kustomizeNamespace = "system"

// Overlay is what config/default changes in the bases it includes: the
// namespace everything is deployed in and the prefix of every name.
type Overlay struct {
	Namespace  string `json:"namespace"`
	NamePrefix string `json:"namePrefix"`
}

// kustomization is the part of a kustomization.yaml this package reads.
type kustomization struct {
	Overlay   `json:",inline"`
	Resources []string `json:"resources"`
}

func readKustomization(dir string) (kustomization, error) {
	var k kustomization
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return k, fmt.Errorf("read kustomization: %w", err)
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return k, fmt.Errorf("parse %s/kustomization.yaml: %w", dir, err)
	}
	return k, nil
}

// ReadOverlay reads the namespace and name prefix of config/default.
func ReadOverlay(defaultDir string) (Overlay, error) {
	k, err := readKustomization(defaultDir)
	if err != nil {
		return Overlay{}, err
	}
	if k.Namespace == "" {
		return Overlay{}, fmt.Errorf("%s/kustomization.yaml sets no namespace", defaultDir)
	}
	return k.Overlay, nil
}

// LoadRBAC reads the resources config/rbac/kustomization.yaml lists and renames
// them as the overlay does, so the local operator runs with exactly the
// ServiceAccount, roles and bindings that are shipped. Only ServiceAccounts,
// Roles, ClusterRoles and their bindings are expected there; anything else is
// an error rather than silently skipped.
func LoadRBAC(rbacDir string, ov Overlay) ([]client.Object, error) {
	k, err := readKustomization(rbacDir)
	if err != nil {
		return nil, err
	}
	if len(k.Resources) == 0 {
		return nil, fmt.Errorf("%s/kustomization.yaml lists no resources", rbacDir)
	}
	var objs []client.Object
	for _, res := range k.Resources {
		data, err := os.ReadFile(filepath.Join(rbacDir, res))
		if err != nil {
			return nil, fmt.Errorf("read RBAC resource: %w", err)
		}
		docs, err := decodeAll(data)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", res, err)
		}
		objs = append(objs, docs...)
	}
	return Rename(objs, ov), nil
}

// decodeAll decodes every document of a multi-document YAML file into typed
// objects of the kinds config/rbac may hold.
func decodeAll(data []byte) ([]client.Object, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	decoder := clientgoscheme.Codecs.UniversalDeserializer()
	var objs []client.Object
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("split YAML documents: %w", err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decode document: %w", err)
		}
		if !supported(obj) {
			return nil, fmt.Errorf("unexpected kind %s in config/rbac", gvk.Kind)
		}
		objs = append(objs, obj.(client.Object))
	}
}

// stripComments drops comment lines, so a document of only comments counts as empty.
func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out.Write(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

func supported(obj runtime.Object) bool {
	switch obj.(type) {
	case *corev1.ServiceAccount, *rbacv1.Role, *rbacv1.ClusterRole, *rbacv1.RoleBinding, *rbacv1.ClusterRoleBinding:
		return true
	}
	return false
}

// Rename applies the overlay as kustomize's namespace and namePrefix
// transformers do: every name gets the prefix, namespaced objects move to the
// overlay's namespace, and references from bindings to roles and
// ServiceAccounts of the same set follow them. A reference to something outside
// the set (a built-in ClusterRole such as view) is left alone.
func Rename(objs []client.Object, ov Overlay) []client.Object {
	defined := map[string]bool{}
	for _, obj := range objs {
		defined[refKey(kindOf(obj), obj.GetName())] = true
	}
	out := make([]client.Object, 0, len(objs))
	for _, in := range objs {
		obj := in.DeepCopyObject().(client.Object)
		obj.SetName(ov.NamePrefix + obj.GetName())
		if obj.GetNamespace() != "" {
			obj.SetNamespace(ov.Namespace)
		}
		switch b := obj.(type) {
		case *rbacv1.RoleBinding:
			b.RoleRef.Name = renameRef(defined, b.RoleRef.Kind, b.RoleRef.Name, ov)
			b.Subjects = renameSubjects(defined, b.Subjects, ov)
		case *rbacv1.ClusterRoleBinding:
			b.RoleRef.Name = renameRef(defined, b.RoleRef.Kind, b.RoleRef.Name, ov)
			b.Subjects = renameSubjects(defined, b.Subjects, ov)
		}
		out = append(out, obj)
	}
	return out
}

func renameRef(defined map[string]bool, kind, name string, ov Overlay) string {
	if defined[refKey(kind, name)] {
		return ov.NamePrefix + name
	}
	return name
}

func renameSubjects(defined map[string]bool, subjects []rbacv1.Subject, ov Overlay) []rbacv1.Subject {
	out := make([]rbacv1.Subject, len(subjects))
	for i, s := range subjects {
		if s.Kind == rbacv1.ServiceAccountKind && defined[refKey(s.Kind, s.Name)] {
			s.Name = ov.NamePrefix + s.Name
			if s.Namespace == kustomizeNamespace || s.Namespace == "" {
				s.Namespace = ov.Namespace
			}
		}
		out[i] = s
	}
	return out
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *corev1.ServiceAccount:
		return rbacv1.ServiceAccountKind
	case *rbacv1.Role:
		return "Role"
	case *rbacv1.ClusterRole:
		return "ClusterRole"
	case *rbacv1.RoleBinding:
		return "RoleBinding"
	case *rbacv1.ClusterRoleBinding:
		return "ClusterRoleBinding"
	}
	return ""
}

func refKey(kind, name string) string { return kind + "/" + name }

// ServiceAccountOf returns the one ServiceAccount of the set: the operator's.
func ServiceAccountOf(objs []client.Object) (*corev1.ServiceAccount, error) {
	var found []*corev1.ServiceAccount
	for _, obj := range objs {
		if sa, ok := obj.(*corev1.ServiceAccount); ok {
			found = append(found, sa)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("config/rbac must define exactly one ServiceAccount (the operator's), found %d", len(found))
	}
	return found[0], nil
}
