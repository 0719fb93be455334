package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/endpoint"
)

const (
	credentialsIndex = "elevator.dev/credentials-secret" //nolint:gosec // G101: the name of a field index, not a credential
	// healthInterval is how often a connection's health is checked again when
	// nothing changed.
	healthInterval = 5 * time.Minute
	// unhealthyInterval is sooner, so Ready turns True soon after a repair.
	unhealthyInterval = 30 * time.Second
)

// SaaSConnectionReconciler keeps a connection's Ready condition up to date from
// its provider's health check, re-checking when its credentials Secret changes.
type SaaSConnectionReconciler struct {
	Client    client.Client
	APIReader client.Reader
	Providers *provider.Registry
	// HealthTimeout bounds one health check.
	HealthTimeout time.Duration
}

// +kubebuilder:rbac:groups=access.elevator.dev,resources=saasconnections/status,verbs=get;update;patch

// Reconcile runs the health check and writes Ready.
func (r *SaaSConnectionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	conn := &accessv1alpha1.SaaSConnection{}
	if err := r.Client.Get(ctx, req.NamespacedName, conn); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := conn.DeepCopy()
	conn.Status.Provider = r.Providers.KindOf(conn.Spec.Provider)
	status, reason, msg := r.health(ctx, conn)
	meta.SetStatusCondition(&conn.Status.Conditions, metav1.Condition{
		Type: accessv1alpha1.ConditionReady, Status: status, Reason: reason, Message: msg, ObservedGeneration: conn.Generation,
	})
	conn.Status.ObservedGeneration = conn.Generation
	if !equality.Semantic.DeepEqual(before.Status, conn.Status) {
		if err := r.Client.Status().Patch(ctx, conn, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("patch status of SaaSConnection %s: %w", req.NamespacedName, err)
		}
	}
	if status != metav1.ConditionTrue {
		return ctrl.Result{RequeueAfter: unhealthyInterval}, nil
	}
	return ctrl.Result{RequeueAfter: healthInterval}, nil
}

func (r *SaaSConnectionReconciler) health(ctx context.Context, conn *accessv1alpha1.SaaSConnection) (metav1.ConditionStatus, string, string) {
	timeout := r.HealthTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	target, _, err := r.Providers.Connect(ctx, provider.Config{Connection: conn, Secrets: SecretReader(r.APIReader, conn.Namespace)})
	if err != nil {
		return metav1.ConditionFalse, failureReason(err), err.Error()
	}
	defer closeQuietly(target)
	if err := target.Health(ctx); err != nil {
		return metav1.ConditionFalse, failureReason(err), err.Error()
	}
	healthy := fmt.Sprintf("%s provider reachable and credentials accepted", conn.Status.Provider)
	if insecure := r.Providers.Insecure(conn.Spec.Provider); len(insecure) > 0 {
		return metav1.ConditionTrue, accessv1alpha1.ReasonInsecure, healthy + "; insecure: " + strings.Join(insecure, "; ")
	}
	return metav1.ConditionTrue, accessv1alpha1.ReasonHealthy, healthy
}

func failureReason(err error) string {
	if errors.Is(err, endpoint.ErrNotAllowed) {
		return accessv1alpha1.ReasonEndpointNotAllowed
	}
	if provider.IsPermanent(err) {
		return accessv1alpha1.ReasonInvalidConfiguration
	}
	return accessv1alpha1.ReasonCannotConnect
}

// SetupWithManager registers the controller and its watch on credentials
// Secrets (metadata only: the operator never caches Secret contents).
func (r *SaaSConnectionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &accessv1alpha1.SaaSConnection{}, credentialsIndex,
		func(obj client.Object) []string {
			if name := r.Providers.CredentialsSecret(obj.(*accessv1alpha1.SaaSConnection).Spec.Provider); name != "" {
				return []string{name}
			}
			return nil
		}); err != nil {
		return fmt.Errorf("index SaaSConnections by credentials Secret: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&accessv1alpha1.SaaSConnection{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.connectionsUsingSecret), builder.OnlyMetadata).
		Named("saasconnection").
		Complete(r)
}

func (r *SaaSConnectionReconciler) connectionsUsingSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	var list accessv1alpha1.SaaSConnectionList
	if err := r.Client.List(ctx, &list, client.InNamespace(secret.GetNamespace()), client.MatchingFields{credentialsIndex: secret.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list connections using a Secret")
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, c := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Name}})
	}
	return out
}
