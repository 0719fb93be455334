package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// SecretReader reads a connection's credentials Secret from the API server, so
// that a rotated credential is used at once and Secrets are never cached.
//
// Only a Secret that opted in, with the label elevator.dev/credentials: "true",
// is handed to a provider, and never a ServiceAccount token: otherwise whoever
// may write a connection could send any Secret of the namespace to an endpoint
// of their choosing. Refusals name the Secret and the label, never the content.
func SecretReader(reader client.Reader, namespace string) provider.SecretReader {
	return func(ctx context.Context, name string) (map[string][]byte, error) {
		secret := &corev1.Secret{}
		err := reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, secret)
		if apierrors.IsNotFound(err) {
			return nil, provider.Permanentf("credentials Secret %q not found in namespace %s", name, namespace)
		}
		if err != nil {
			return nil, fmt.Errorf("read credentials Secret %q: %w", name, err)
		}
		if err := usableAsCredentials(secret); err != nil {
			return nil, err
		}
		return secret.Data, nil
	}
}

// usableAsCredentials refuses a ServiceAccount token Secret, and a Secret
// without the opt-in label.
func usableAsCredentials(secret *corev1.Secret) error {
	if secret.Type == corev1.SecretTypeServiceAccountToken {
		return provider.Permanentf("Secret %q in namespace %s is a ServiceAccount token (type %s), which is never used as connection credentials",
			secret.Name, secret.Namespace, corev1.SecretTypeServiceAccountToken)
	}
	if secret.Labels[accessv1alpha1.LabelCredentials] != "true" {
		return provider.Permanentf("Secret %q in namespace %s does not carry the label %s: \"true\"; label it to let connections read it as credentials",
			secret.Name, secret.Namespace, accessv1alpha1.LabelCredentials)
	}
	return nil
}
