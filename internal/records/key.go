package records

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// DefaultKeySecretName is the name of the Secret holding the record-signing key,
// in the operator's own namespace, unless --records-key-secret says otherwise.
const DefaultKeySecretName = "elevator-records-key"

// DefaultKeyNamespace is where the key is kept when the operator does not run as
// a ServiceAccount (e.g. make run against a cluster with a person's kubeconfig).
const DefaultKeyNamespace = "elevator-system"

// keyField is the Secret data field that holds the key.
const keyField = "key"

// KeySecret works out where the key lives: flag is NAMESPACE/NAME when set;
// otherwise the Secret DefaultKeySecretName in the namespace of the operator's
// ServiceAccount (operatorUser is system:serviceaccount:NAMESPACE:NAME), or in
// DefaultKeyNamespace.
func KeySecret(flag, operatorUser string) (types.NamespacedName, error) {
	if flag != "" {
		ns, name, ok := strings.Cut(flag, "/")
		if !ok || ns == "" || name == "" {
			return types.NamespacedName{}, fmt.Errorf("--records-key-secret %q: want NAMESPACE/NAME", flag)
		}
		return types.NamespacedName{Namespace: ns, Name: name}, nil
	}
	ns := DefaultKeyNamespace
	if rest, ok := strings.CutPrefix(operatorUser, "system:serviceaccount:"); ok {
		if saNamespace, _, ok := strings.Cut(rest, ":"); ok && saNamespace != "" {
			ns = saNamespace
		}
	}
	return types.NamespacedName{Namespace: ns, Name: DefaultKeySecretName}, nil
}

// EnsureKey reads the record-signing key from the Secret at where, creating the
// Secret with a fresh random key when it does not exist. The Secret is
// immutable: a key that changed under a running operator would silently void
// every record. c must read from the API server, not a cache.
func EnsureKey(ctx context.Context, c client.Client, where types.NamespacedName) ([]byte, error) {
	key, err := readKey(ctx, c, where)
	if err == nil || !apierrors.IsNotFound(err) {
		return key, err
	}
	fresh := make([]byte, KeySize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("generate record-signing key: %w", err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: where.Name, Namespace: where.Namespace,
			Labels: map[string]string{accessv1alpha1.LabelManagedBy: accessv1alpha1.ManagedByValue},
		},
		Immutable: ptr.To(true),
		Data:      map[string][]byte{keyField: fresh},
	}
	err = c.Create(ctx, secret)
	if apierrors.IsAlreadyExists(err) {
		// Another replica made it first; its key is the one.
		return readKey(ctx, c, where)
	}
	if err != nil {
		return nil, fmt.Errorf("create Secret %s for the record-signing key: %w", where, err)
	}
	return fresh, nil
}

func readKey(ctx context.Context, c client.Reader, where types.NamespacedName) ([]byte, error) {
	secret := &corev1.Secret{}
	if err := c.Get(ctx, where, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, err
		}
		return nil, fmt.Errorf("read Secret %s for the record-signing key: %w", where, err)
	}
	key := secret.Data[keyField]
	if len(key) < KeySize {
		return nil, fmt.Errorf("secret %s: field %q holds %d bytes, want at least %d", where, keyField, len(key), KeySize)
	}
	return key, nil
}
