package kubeaudit

import (
	"slices"
	"strings"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// Scope is what an elevation covers in the cluster: the subject, where the
// role applies, and the bindings the grant made.
type Scope struct {
	// Subject is the user name the role was bound to.
	Subject string
	// Namespaces are the role's namespaces; ignored when ClusterWide.
	Namespaces  []string
	ClusterWide bool
	// Bindings are the grant's own bindings: an allowed action whose
	// authorizer reason names none of them was allowed by other access.
	Bindings []accessv1alpha1.BindingRef
}

// Match decides whether ev is an action of the elevation in the window
// [from, until] (until zero: still open), and returns it as an Action. An
// event belongs to the elevation when it completed (stage ResponseComplete or
// Panic), the subject acted (as itself, as the user it impersonated, or as
// the impersonator of someone else), the request arrived inside the window,
// and, for a namespaced role, the object is in one of its namespaces.
func Match(ev Event, s Scope, from, until time.Time) (provider.Action, bool) {
	if ev.Stage != auditv1.StageResponseComplete && ev.Stage != auditv1.StagePanic {
		return provider.Action{}, false
	}
	if ev.At.Before(from) || (!until.IsZero() && ev.At.After(until)) {
		return provider.Action{}, false
	}
	if !s.ClusterWide && !slices.Contains(s.Namespaces, ev.Namespace) {
		return provider.Action{}, false
	}
	a := provider.Action{
		At:       ev.At,
		ID:       ev.AuditID,
		Category: Category(ev),
		Action:   ev.Verb,
		Object:   Object(ev),
		Denied:   Denied(ev),
	}
	switch {
	case ev.ImpersonatedUser == "" && ev.User == s.Subject:
	case ev.ImpersonatedUser != "" && ev.ImpersonatedUser == s.Subject:
		a.ImpersonatedBy = ev.User
	case ev.ImpersonatedUser != "" && ev.User == s.Subject:
		// The subject acted as someone else: the action is the subject's,
		// authorised as the other user.
		a.Action = ev.Verb + " as " + ev.ImpersonatedUser
	default:
		return provider.Action{}, false
	}
	a.NotViaElevation = !a.Denied && !ViaBindings(ev.Reason, s.Bindings)
	return a, true
}

// actors are the user names an event is filed under: the acting identity and,
// when it impersonated, the impersonator.
func actors(ev Event) []string {
	if ev.ImpersonatedUser == "" || ev.ImpersonatedUser == ev.User {
		return []string{ev.User}
	}
	return []string{ev.ImpersonatedUser, ev.User}
}

// Denied reports whether the apiserver refused the request: the authorizer
// said forbid, or the response was 401 or 403.
func Denied(ev Event) bool {
	return ev.Decision == "forbid" || ev.Code == 401 || ev.Code == 403
}

// ViaBindings reports whether the RBAC authorizer's reason names one of the
// bindings: it says `allowed by RoleBinding "NAME/NAMESPACE" of ...` or
// `allowed by ClusterRoleBinding "NAME" of ...`.
func ViaBindings(reason string, bindings []accessv1alpha1.BindingRef) bool {
	for _, b := range bindings {
		var named string
		if b.Kind == "ClusterRoleBinding" {
			named = `by ClusterRoleBinding "` + b.Name + `"`
		} else {
			named = `by RoleBinding "` + b.Name + "/" + b.Namespace + `"`
		}
		if strings.Contains(reason, named) {
			return true
		}
	}
	return false
}

// writeVerbs are the request verbs that change something.
var writeVerbs = map[string]bool{"create": true, "update": true, "patch": true, "delete": true, "deletecollection": true}

// dataSubresources reach into a workload: whatever the verb, they are Data.
var dataSubresources = map[string]bool{"exec": true, "attach": true, "portforward": true, "proxy": true}

// Category says what kind of action ev was: writes of RBAC roles and
// bindings, ServiceAccount tokens, certificate signing requests and Elevator's
// own requests and connections are Access; writes of Secrets and exec, attach,
// port-forward or proxy into a workload are Data; other writes are Config;
// reads are Other.
func Category(ev Event) accessv1alpha1.ActivityCategory {
	if ev.Resource == "pods" || ev.Resource == "services" || ev.Resource == "nodes" {
		if dataSubresources[ev.Subresource] {
			return accessv1alpha1.ActivityData
		}
	}
	if !writeVerbs[ev.Verb] {
		return accessv1alpha1.ActivityOther
	}
	switch {
	case accessResource(ev):
		return accessv1alpha1.ActivityAccess
	case ev.APIGroup == "" && ev.Resource == "secrets":
		return accessv1alpha1.ActivityData
	default:
		return accessv1alpha1.ActivityConfig
	}
}

func accessResource(ev Event) bool {
	switch ev.APIGroup {
	case "rbac.authorization.k8s.io":
		return true
	case "certificates.k8s.io":
		return ev.Resource == "certificatesigningrequests"
	case accessv1alpha1.GroupVersion.Group:
		return true
	case "":
		return ev.Resource == "serviceaccounts" && ev.Subresource == "token"
	}
	return false
}

// kinds names the resources most actions touch by their Kind, as the
// kubernetes provider names bindings ("RoleBinding payments/backdoor").
var kinds = map[string]string{
	"/pods": "Pod", "/services": "Service", "/configmaps": "ConfigMap", "/secrets": "Secret",
	"/serviceaccounts": "ServiceAccount", "/namespaces": "Namespace", "/nodes": "Node",
	"/persistentvolumeclaims": "PersistentVolumeClaim", "/persistentvolumes": "PersistentVolume",
	"/events": "Event", "/endpoints": "Endpoints", "/resourcequotas": "ResourceQuota", "/limitranges": "LimitRange",
	"apps/deployments": "Deployment", "apps/statefulsets": "StatefulSet", "apps/daemonsets": "DaemonSet",
	"apps/replicasets": "ReplicaSet", "batch/jobs": "Job", "batch/cronjobs": "CronJob",
	"networking.k8s.io/ingresses": "Ingress", "networking.k8s.io/networkpolicies": "NetworkPolicy",
	"rbac.authorization.k8s.io/roles": "Role", "rbac.authorization.k8s.io/rolebindings": "RoleBinding",
	"rbac.authorization.k8s.io/clusterroles": "ClusterRole", "rbac.authorization.k8s.io/clusterrolebindings": "ClusterRoleBinding",
	"certificates.k8s.io/certificatesigningrequests": "CertificateSigningRequest",
	"apiextensions.k8s.io/customresourcedefinitions": "CustomResourceDefinition",
	"access.elevator.dev/elevationrequests":          "ElevationRequest",
	"access.elevator.dev/saasconnections":            "SaaSConnection",
}

// collectionVerbs act on a whole collection, not one named object.
var collectionVerbs = map[string]bool{"list": true, "watch": true, "deletecollection": true}

// Object names what ev was done to: "<Kind> namespace/name" for a namespaced
// object, "<Kind> name" for a cluster-scoped one, "*" for a whole collection,
// and the subresource in parentheses. A resource without a known Kind is named
// resource.group. A non-resource request is its path.
func Object(ev Event) string {
	if ev.Resource == "" {
		return ev.Path
	}
	kind, ok := kinds[ev.APIGroup+"/"+ev.Resource]
	if !ok {
		kind = ev.Resource
		if ev.APIGroup != "" {
			kind += "." + ev.APIGroup
		}
	}
	name := ev.Name
	switch {
	case name != "":
	case collectionVerbs[ev.Verb]:
		name = "*"
	default:
		// A create refused before its body was read (by the authorizer, say)
		// is logged without the object's name.
		name = "(name not logged)"
	}
	if ev.Namespace != "" {
		name = ev.Namespace + "/" + name
	}
	out := kind + " " + name
	if ev.Subresource != "" {
		out += " (" + ev.Subresource + ")"
	}
	return out
}
