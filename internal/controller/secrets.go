package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/elevator-dev/elevator/internal/provider"
)

// SecretReader reads a connection's credentials Secret from the API server, so
// that a rotated credential is used at once and Secrets are never cached.
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
		return secret.Data, nil
	}
}
