// Package argocd ships Elevator's Argo CD health checks: one Lua script per
// kind, and the argocd-cm patch that installs them, generated from the scripts
// (docs/gitops.md).
package argocd

import (
	"bytes"
	_ "embed"
	"fmt"

	"go.yaml.in/yaml/v3"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

//go:generate go run ../../hack/argocd-cm

// PatchFile is the argocd-cm patch in this directory, written by go generate.
const PatchFile = "argocd-cm-patch.yaml"

var (
	//go:embed elevationrequest-health.lua
	elevationRequestHealth string
	//go:embed saasconnection-health.lua
	saasConnectionHealth string
)

// HealthCheck is the health script of one kind and the argocd-cm key that
// installs it.
type HealthCheck struct {
	// Kind is the custom resource's kind in access.elevator.dev.
	Kind string
	// File is the script's file name in this directory.
	File string
	// Script is the Lua source, exactly as in File.
	Script string
}

// Key is the argocd-cm data key Argo CD reads the script from:
// resource.customizations.health.<group>_<kind>.
func (h HealthCheck) Key() string {
	return "resource.customizations.health." + accessv1alpha1.GroupVersion.Group + "_" + h.Kind
}

// HealthChecks returns the health check of every kind, in the order the patch
// lists them.
func HealthChecks() []HealthCheck {
	return []HealthCheck{
		{Kind: "ElevationRequest", File: "elevationrequest-health.lua", Script: elevationRequestHealth},
		{Kind: "SaaSConnection", File: "saasconnection-health.lua", Script: saasConnectionHealth},
	}
}

const patchComment = `Code generated from config/argocd/*.lua by go generate ./config/argocd (make generate). DO NOT EDIT.
Argo CD health checks for Elevator's ElevationRequest and SaaSConnection (docs/gitops.md).
Install: kubectl -n argocd patch configmap argocd-cm --patch-file config/argocd/argocd-cm-patch.yaml`

// ConfigMapPatch renders the argocd-cm ConfigMap holding every health check,
// each script as a literal block so the file reads as the Lua it installs.
func ConfigMapPatch() ([]byte, error) {
	data := mapping()
	for _, h := range HealthChecks() {
		script := scalar(h.Script)
		script.Style = yaml.LiteralStyle
		data.Content = append(data.Content, scalar(h.Key()), script)
	}
	labels := mapping(
		"app.kubernetes.io/name", "argocd-cm",
		"app.kubernetes.io/part-of", "argocd",
	)
	metadata := mapping("name", "argocd-cm", "namespace", "argocd")
	metadata.Content = append(metadata.Content, scalar("labels"), labels)
	doc := mapping("apiVersion", "v1", "kind", "ConfigMap")
	doc.Content = append(doc.Content, scalar("metadata"), metadata, scalar("data"), data)
	doc.HeadComment = patchComment

	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode the argocd-cm patch: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode the argocd-cm patch: %w", err)
	}
	return out.Bytes(), nil
}

func scalar(value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
}

// mapping returns a mapping node of the given key, value, key, value... strings.
func mapping(pairs ...string) *yaml.Node {
	node := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, s := range pairs {
		node.Content = append(node.Content, scalar(s))
	}
	return node
}
