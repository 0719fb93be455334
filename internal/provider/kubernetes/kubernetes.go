// Package kubernetes is the provider for the cluster the operator runs in. A role
// is a ClusterRole bound to the subject, as a User, with one RoleBinding in each
// of the role's namespaces or one ClusterRoleBinding. Every request gets its own
// bindings, named deterministically after the request so that a retry finds
// them; Check reads them back with an uncached reader and, once none is left,
// asks the authorizer, by SubjectAccessReview, whether the subject can still use
// one permission of the role. ClusterRoles are read from the informer cache: they
// only name what is probed and are checked to exist, while the proof of
// revocation is the fresh read of the bindings.
//
// Its activity source (activity.go) is the kube-apiserver's audit webhook,
// posted to the operator's own receiver (internal/activity/kubeaudit).
//
// The operator's ServiceAccount needs the RBAC verb "bind" on exactly the
// ClusterRoles it may hand out (Kubernetes refuses to let anyone create a binding
// to permissions it does not hold itself, unless it may "bind" that role), plus
// create/delete/get on rolebindings and clusterrolebindings.
package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/activity/kubeaudit"
	"github.com/elevator-dev/elevator/internal/provider"
)

// The "bind" verb on the ClusterRoles handed out is deliberately not generated
// here: config/rbac/bind_role.yaml lists them by name, for the platform team to edit.
// list finds residual bindings; update removes foreign finalizers from the operator's own bindings at revoke.
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings;clusterrolebindings,verbs=get;list;create;delete;update
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=get;list;watch
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// Client grants ClusterRoles through bindings in the operator's own cluster.
type Client struct {
	writer client.Client
	reader client.Reader
	conn   *accessv1alpha1.SaaSConnection
	// audit is the operator's audit receiver's store; nil when it runs none.
	audit         *kubeaudit.Store
	activityDelay time.Duration
}

var _ provider.Client = (*Client)(nil)

// BindingName is the name of every binding made for the request: a readable
// prefix of the request's name and a hash of its namespace and name, so that two
// requests never share a binding and a retry finds its own.
func BindingName(holder types.NamespacedName) string {
	return PartBindingName(holder, "")
}

// PartBindingName is the name of every binding made for one target (part) of
// a request with several: the part is hashed in too, so that two targets of
// one request never share a binding. An empty part gives BindingName.
func PartBindingName(holder types.NamespacedName, part string) string {
	key := holder.Namespace + "/" + holder.Name
	if part != "" {
		key += "\x00" + part
	}
	sum := sha256.Sum256([]byte(key))
	// Dots are replaced so that truncation can never leave a "." beside a "-".
	name := strings.ReplaceAll(holder.Name, ".", "-")
	if len(name) > 40 {
		name = name[:40]
	}
	return strings.TrimRight("elevator-"+name, "-") + "-" + hex.EncodeToString(sum[:])[:10]
}

// labels name the request a binding was made for. Label values are limited to 63
// characters, so a longer name is replaced by its hash; the full name is in the
// annotations.
func labels(holder types.NamespacedName) map[string]string {
	return map[string]string{
		accessv1alpha1.LabelManagedBy:        accessv1alpha1.ManagedByValue,
		accessv1alpha1.LabelRequestNamespace: labelValue(holder.Namespace),
		accessv1alpha1.LabelRequestName:      labelValue(holder.Name),
	}
}

func labelValue(s string) string {
	if len(validation.IsValidLabelValue(s)) == 0 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + hex.EncodeToString(sum[:])[:40]
}

func annotations(holder types.NamespacedName) map[string]string {
	return map[string]string{accessv1alpha1.AnnotationPrefix + "request": holder.String()}
}

func roleSpec(e provider.Entitlement) (*accessv1alpha1.KubernetesRole, error) {
	if e.Role.Kubernetes == nil {
		return nil, provider.Permanentf("role %q has no kubernetes block", e.Role.Name)
	}
	return e.Role.Kubernetes, nil
}

func subjects(subject string) []rbacv1.Subject {
	return []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: subject}}
}

// bindings returns the bindings the entitlement consists of.
func bindings(e provider.Entitlement, role *accessv1alpha1.KubernetesRole) []client.Object {
	name := PartBindingName(e.Holder, e.Part)
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.ClusterRole}
	meta := func(ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels(e.Holder), Annotations: annotations(e.Holder)}
	}
	if role.ClusterWide {
		return []client.Object{&rbacv1.ClusterRoleBinding{ObjectMeta: meta(""), RoleRef: ref, Subjects: subjects(e.Subject)}}
	}
	objs := make([]client.Object, 0, len(role.Namespaces))
	for _, ns := range role.Namespaces {
		objs = append(objs, &rbacv1.RoleBinding{ObjectMeta: meta(ns), RoleRef: ref, Subjects: subjects(e.Subject)})
	}
	return objs
}

// Endpoint is the GrantTarget endpoint of this provider: the operator's own cluster.
const Endpoint = "kubernetes"

// Grant creates the request's bindings; bindings that already exist are kept
// when they say the same, and replaced when they do not (a roleRef is immutable).
// The Grant names the bindings, which Revoke and Check then act on.
func (c *Client) Grant(ctx context.Context, e provider.Entitlement) (provider.Grant, error) {
	role, err := roleSpec(e)
	if err != nil {
		return provider.Grant{}, err
	}
	if err := c.ensureClusterRole(ctx, role.ClusterRole); err != nil {
		return provider.Grant{}, err
	}
	objs := bindings(e, role)
	for _, obj := range objs {
		if err := c.ensureBinding(ctx, obj); err != nil {
			return provider.Grant{}, err
		}
	}
	return provider.Grant{Target: accessv1alpha1.GrantTarget{Endpoint: Endpoint, Bindings: bindingRefs(objs)}}, nil
}

// bindingRefs names the bindings, for status.grant.target.
func bindingRefs(objs []client.Object) []accessv1alpha1.BindingRef {
	refs := make([]accessv1alpha1.BindingRef, 0, len(objs))
	for _, obj := range objs {
		kind := "RoleBinding"
		if _, ok := obj.(*rbacv1.ClusterRoleBinding); ok {
			kind = "ClusterRoleBinding"
		}
		refs = append(refs, accessv1alpha1.BindingRef{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()})
	}
	return refs
}

// grantedBindings are the bindings the entitlement consists of: the stored ones
// when the grant recorded them, otherwise the ones its role and holder name.
func grantedBindings(e provider.Entitlement, role *accessv1alpha1.KubernetesRole) []client.Object {
	if e.Target == nil || len(e.Target.Bindings) == 0 {
		return bindings(e, role)
	}
	objs := make([]client.Object, 0, len(e.Target.Bindings))
	for _, ref := range e.Target.Bindings {
		meta := metav1.ObjectMeta{Name: ref.Name, Namespace: ref.Namespace}
		if ref.Kind == "ClusterRoleBinding" {
			objs = append(objs, &rbacv1.ClusterRoleBinding{ObjectMeta: meta})
			continue
		}
		objs = append(objs, &rbacv1.RoleBinding{ObjectMeta: meta})
	}
	return objs
}

func (c *Client) ensureClusterRole(ctx context.Context, name string) error {
	err := c.writer.Get(ctx, client.ObjectKey{Name: name}, &rbacv1.ClusterRole{})
	if apierrors.IsNotFound(err) {
		// A cache may not have seen a ClusterRole made a moment ago; a missing
		// role fails the request for good, so the API server has the last word.
		err = c.reader.Get(ctx, client.ObjectKey{Name: name}, &rbacv1.ClusterRole{})
	}
	if apierrors.IsNotFound(err) {
		return provider.Permanentf("ClusterRole %q does not exist", name)
	}
	if err != nil {
		return fmt.Errorf("read ClusterRole %q: %w", name, err)
	}
	return nil
}

func (c *Client) ensureBinding(ctx context.Context, want client.Object) error {
	err := c.writer.Create(ctx, want)
	if err == nil {
		return nil
	}
	if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
		return provider.Permanent(fmt.Errorf("create %s: %w", describe(want), err))
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create %s: %w", describe(want), err)
	}
	have := want.DeepCopyObject().(client.Object)
	if err := c.reader.Get(ctx, client.ObjectKeyFromObject(want), have); err != nil {
		return fmt.Errorf("read %s: %w", describe(want), err)
	}
	if sameBinding(have, want) && have.GetDeletionTimestamp() == nil {
		return nil
	}
	// A binding of that name that says something else, or is on its way out,
	// is replaced; the next attempt creates ours.
	if err := client.IgnoreNotFound(c.writer.Delete(ctx, have)); err != nil {
		return fmt.Errorf("replace %s: %w", describe(want), err)
	}
	return fmt.Errorf("%s existed with other content and was deleted; will create it again", describe(want))
}

func sameBinding(have, want client.Object) bool {
	switch w := want.(type) {
	case *rbacv1.RoleBinding:
		h := have.(*rbacv1.RoleBinding)
		return h.RoleRef == w.RoleRef && equalSubjects(h.Subjects, w.Subjects)
	case *rbacv1.ClusterRoleBinding:
		h := have.(*rbacv1.ClusterRoleBinding)
		return h.RoleRef == w.RoleRef && equalSubjects(h.Subjects, w.Subjects)
	}
	return false
}

func equalSubjects(a, b []rbacv1.Subject) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Revoke deletes the request's bindings; bindings already gone are fine. A
// binding held by someone else's finalizer stays Terminating, and RBAC honours
// a Terminating binding, so the finalizers of the operator's own bindings are
// removed once they are being deleted (when no finalizer can be added any more).
func (c *Client) Revoke(ctx context.Context, e provider.Entitlement) error {
	role, err := roleSpec(e)
	if err != nil {
		return err
	}
	for _, obj := range grantedBindings(e, role) {
		if err := client.IgnoreNotFound(c.writer.Delete(ctx, obj)); err != nil {
			return fmt.Errorf("delete %s: %w", describe(obj), err)
		}
		if err := c.releaseFinalizers(ctx, e, obj); err != nil {
			return err
		}
	}
	return nil
}

// releaseFinalizers clears the finalizers of a deleted binding that this
// request made (its labels say so), reading it fresh from the API server. A
// same-named binding the operator did not make is left alone: Check then
// reports it present.
func (c *Client) releaseFinalizers(ctx context.Context, e provider.Entitlement, want client.Object) error {
	have := want.DeepCopyObject().(client.Object)
	err := c.reader.Get(ctx, client.ObjectKeyFromObject(want), have)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", describe(want), err)
	}
	if len(have.GetFinalizers()) == 0 || have.GetDeletionTimestamp() == nil || !madeFor(have, e.Holder) {
		return nil
	}
	foreign := strings.Join(have.GetFinalizers(), ",")
	have.SetFinalizers(nil)
	// The resourceVersion read above makes this an optimistic update.
	if err := client.IgnoreNotFound(c.writer.Update(ctx, have)); err != nil {
		return fmt.Errorf("remove finalizers %s from %s: %w", foreign, describe(want), err)
	}
	return nil
}

// madeFor reports whether a binding carries the labels this operator puts on
// the bindings of holder.
func madeFor(obj client.Object, holder types.NamespacedName) bool {
	got := obj.GetLabels()
	for k, v := range labels(holder) {
		if got[k] != v {
			return false
		}
	}
	return true
}

// Check reads the request's bindings from the API server. The entitlement is
// present while any of them exists, including one that is being deleted but is
// held by a finalizer: the authorizer still honours it. When none is left, the
// evidence adds a SubjectAccessReview for one permission of the role. When the
// authorizer still allows it, the subject holds the access by another path:
// Residual names the bindings that grant the subject that ClusterRole in the
// role's scope (reported, not removed), or the authorizer's reason when no such
// binding is found.
func (c *Client) Check(ctx context.Context, e provider.Entitlement) (provider.Observation, error) {
	role, err := roleSpec(e)
	if err != nil {
		return provider.Observation{}, err
	}
	var present, absent []string
	for _, obj := range grantedBindings(e, role) {
		err := c.reader.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		switch {
		case apierrors.IsNotFound(err):
			absent = append(absent, describe(obj))
		case err != nil:
			return provider.Observation{}, fmt.Errorf("read %s: %w", describe(obj), err)
		case obj.GetDeletionTimestamp() != nil:
			present = append(present, describe(obj)+" (deleting, held by finalizers "+strings.Join(obj.GetFinalizers(), ",")+")")
		default:
			present = append(present, describe(obj))
		}
	}
	if len(present) > 0 {
		return provider.Observation{Present: true, Method: "GET of the request's bindings from the API server", Evidence: evidence(present, absent, "")}, nil
	}
	review, err := c.accessReview(ctx, e.Subject, role)
	if err != nil {
		return provider.Observation{}, err
	}
	obs := provider.Observation{
		Method:   "GET of the request's bindings from the API server, and a SubjectAccessReview",
		Evidence: evidence(present, absent, review.summary),
	}
	if review.allowed {
		if obs.Residual, err = c.residualPaths(ctx, e.Subject, role, review.reason); err != nil {
			return provider.Observation{}, err
		}
		obs.Method += ", and a LIST of the RoleBindings and ClusterRoleBindings of the ClusterRole"
	}
	return obs, nil
}

func evidence(present, absent []string, access string) string {
	var parts []string
	if len(present) > 0 {
		parts = append(parts, "present: "+strings.Join(present, ", "))
	}
	if len(absent) > 0 {
		parts = append(parts, "absent: "+strings.Join(absent, ", "))
	}
	if access != "" {
		parts = append(parts, access)
	}
	return strings.Join(parts, "; ")
}

// accessVerdict is what the SubjectAccessReview answered.
type accessVerdict struct {
	// summary is the verdict in words, for the evidence.
	summary string
	allowed bool
	// reason is the authorizer's reason for an allowed answer.
	reason string
}

// accessReview asks the authorizer whether the subject may use the first
// permission of the ClusterRole, where the role would grant it.
func (c *Client) accessReview(ctx context.Context, subject string, role *accessv1alpha1.KubernetesRole) (accessVerdict, error) {
	attrs, ok, err := c.probe(ctx, role)
	if err != nil || !ok {
		return accessVerdict{summary: "SubjectAccessReview: skipped, the ClusterRole has no resource rule to probe"}, err
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: subject, ResourceAttributes: attrs}}
	if err := c.writer.Create(ctx, sar); err != nil {
		return accessVerdict{}, fmt.Errorf("SubjectAccessReview for %q: %w", subject, err)
	}
	verdict := "denied"
	if sar.Status.Allowed {
		verdict = "allowed"
	}
	where := "cluster-wide"
	if attrs.Namespace != "" {
		where = "in namespace " + attrs.Namespace
	}
	resource := attrs.Resource
	if attrs.Group != "" {
		resource += "." + attrs.Group
	}
	return accessVerdict{
		summary: fmt.Sprintf("SubjectAccessReview: %s %s %s %s: %s", subject, attrs.Verb, resource, where, verdict),
		allowed: sar.Status.Allowed,
		reason:  sar.Status.Reason,
	}, nil
}

func (c *Client) probe(ctx context.Context, role *accessv1alpha1.KubernetesRole) (*authorizationv1.ResourceAttributes, bool, error) {
	cr := &rbacv1.ClusterRole{}
	if err := c.writer.Get(ctx, client.ObjectKey{Name: role.ClusterRole}, cr); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("read ClusterRole %q: %w", role.ClusterRole, err)
	}
	for _, rule := range cr.Rules {
		if len(rule.Verbs) == 0 || len(rule.Resources) == 0 || len(rule.ResourceNames) > 0 {
			continue
		}
		attrs := &authorizationv1.ResourceAttributes{Verb: rule.Verbs[0], Resource: rule.Resources[0]}
		if len(rule.APIGroups) > 0 {
			attrs.Group = rule.APIGroups[0]
		}
		if !role.ClusterWide && len(role.Namespaces) > 0 {
			attrs.Namespace = role.Namespaces[0]
		}
		return attrs, true, nil
	}
	return nil, false, nil
}

// Health checks that every ClusterRole the connection hands out exists.
func (c *Client) Health(ctx context.Context) error {
	var missing []string
	for _, r := range c.conn.Spec.Roles {
		if r.Kubernetes == nil {
			continue
		}
		err := c.writer.Get(ctx, client.ObjectKey{Name: r.Kubernetes.ClusterRole}, &rbacv1.ClusterRole{})
		if apierrors.IsNotFound(err) {
			missing = append(missing, fmt.Sprintf("%s (role %s)", r.Kubernetes.ClusterRole, r.Name))
			continue
		}
		if err != nil {
			return fmt.Errorf("read ClusterRole %q: %w", r.Kubernetes.ClusterRole, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("ClusterRoles do not exist: %s", strings.Join(missing, ", "))
	}
	return nil
}

// Close does nothing: the client shares the manager's connections.
func (c *Client) Close() error { return nil }

func describe(obj client.Object) string {
	switch obj.(type) {
	case *rbacv1.ClusterRoleBinding:
		return "ClusterRoleBinding " + obj.GetName()
	default:
		return "RoleBinding " + obj.GetNamespace() + "/" + obj.GetName()
	}
}
