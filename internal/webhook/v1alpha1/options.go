package v1alpha1

import (
	"time"

	"github.com/elevator-dev/elevator/internal/policy"
	"github.com/elevator-dev/elevator/internal/records"
)

// Options configure the webhooks.
type Options struct {
	// MaxDuration is the operator's --max-duration; 0 means no global cap.
	MaxDuration time.Duration
	// GrantableClusterRoles is the operator's --grantable-cluster-roles: the
	// only ClusterRoles a SaaSConnection may offer. Nil allows none.
	GrantableClusterRoles policy.GrantableClusterRoles
	// Signer signs the records the webhooks write; required.
	Signer *records.Signer
	// OperatorUser is the user name the operator's own writes carry (found with
	// a SelfSubjectReview at start-up, internal/identity); required. Only this
	// user may remove the operator's finalizer from a request that may hold access.
	OperatorUser string
	// MaxOpenRequests caps the open (non-terminal) requests of one subject on
	// one connection; 0 means no cap.
	MaxOpenRequests int
}
