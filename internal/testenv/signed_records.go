package testenv

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/records"
)

// UpdateSignedRecords reads the request, changes its record annotations and
// signs them with signer, as the admission webhook would, in one
// read-modify-write. Suites that run without the webhook use it to approve,
// deny or revoke; on a conflict the caller retries.
func UpdateSignedRecords(ctx context.Context, c client.Client, signer *records.Signer, key types.NamespacedName, change func(*records.Records)) error {
	cur := &accessv1alpha1.ElevationRequest{}
	if err := c.Get(ctx, key, cur); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	rec, err := records.Parse(cur.Annotations)
	if err != nil {
		return fmt.Errorf("parse the records of %s: %w", key, err)
	}
	change(&rec)
	if cur.Annotations, err = signer.Encode(cur, rec, cur.Annotations); err != nil {
		return fmt.Errorf("sign the records of %s: %w", key, err)
	}
	return c.Update(ctx, cur)
}
