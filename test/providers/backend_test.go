package providers

import (
	"crypto/rand"
	"encoding/hex"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// backend is one real server of one provider, and what the suite needs to
// point a SaaSConnection at it, seed it and read it back independently.
type backend interface {
	// Name is the provider's kind, e.g. "ldap".
	Name() string
	// Registration is the provider under test.
	Registration() provider.Registration
	// ProviderSpec is the connection's spec.provider for the server, with the
	// credentials in the Secret named secret.
	ProviderSpec(secret string) accessv1alpha1.ProviderSpec
	// Credentials is the data of a Secret the server accepts.
	Credentials() map[string][]byte
	// WrongCredentials is the data of a Secret with one credential the server
	// refuses, and that credential.
	WrongCredentials() (map[string][]byte, string)
	// NewTarget makes a fresh role on the server and a subject that is not a
	// member of it.
	NewTarget() target
	// NewTargetFor is NewTarget with a subject of the caller's choosing,
	// which it creates on the server (it must not exist there yet), so that
	// one request can name the same subject on every server.
	NewTargetFor(subject string) target
	// IsMember reads the server, with a client that is not the provider under
	// test, and reports whether the subject is a member of the role. It fails
	// the spec if the bystander is not.
	IsMember(t target) bool
	// AddMember makes the subject a member directly on the server, as standing
	// access made outside Elevator.
	AddMember(t target)
	// Break makes the server refuse or stop answering the operator; Repair
	// undoes it. The independent reads of IsMember may not work in between
	// (readableWhileBroken says whether they do).
	Break()
	Repair()
	readableWhileBroken() bool
	// VerificationMethod is what the revocation's method must say it read.
	VerificationMethod(t target) string
	// AbsentEvidence is a phrase the evidence of a verified revocation holds.
	AbsentEvidence(t target) string
	// Secrets are the credential values that must never appear in a log, an
	// Event or a status.
	Secrets() []string
}

// target is one subject and one role on a backend's server.
type target struct {
	// Subject is the ElevationRequest's spec.subject.
	Subject string
	// Role is the connection's role, with its provider block.
	Role accessv1alpha1.Role
	// GroupRef and UserRef are how the backend finds the role and the subject
	// on its server (a DN, a SCIM id, a role name).
	GroupRef, UserRef string
	// Bystander is another member of the role from before the test, found the
	// same way; nothing the lifecycle does may remove it.
	Bystander string
}

// randomHex returns n random bytes in hex, for credentials and unique names.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("random: " + err.Error())
	}
	return hex.EncodeToString(b)
}
