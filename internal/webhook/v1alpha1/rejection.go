package v1alpha1

import "errors"

// rejection is a policy violation to show the user, as opposed to a failure to
// check the policy.
type rejection struct{ err error }

func (r rejection) Error() string { return r.err.Error() }
func (r rejection) Unwrap() error { return r.err }

func isRejection(err error) bool {
	var r rejection
	return errors.As(err, &r)
}
