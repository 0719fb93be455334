package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BreakGlassPolicy lets the subject of a request for this role approve it
// themselves in an emergency, when they hold the RBAC verb "breakglass" on the
// connection: with a justification of at least minJustification characters,
// for at most maxDuration, and loudly (a Warning Event, a notification to
// every sink, a metric, the audit trail), and it must be reviewed by an
// approver (elevator.dev/review) within reviewWithin.
type BreakGlassPolicy struct {
	// MinJustification is the shortest spec.justification, in characters, a
	// break-glass request may have. Defaults to 40.
	// +optional
	// +kubebuilder:default=40
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=1024
	MinJustification int32 `json:"minJustification,omitempty"`

	// MaxDuration caps spec.duration of a break-glass request, as a Go
	// duration. Defaults to 1h; the role's own maxDuration caps it too.
	// +optional
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s')",message="breakGlass.maxDuration must be a positive Go duration such as 1h"
	MaxDuration string `json:"maxDuration,omitempty"`

	// ReviewWithin is how long after the break-glass use an approver must
	// review it, as a Go duration. Defaults to 24h.
	// +optional
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s')",message="breakGlass.reviewWithin must be a positive Go duration such as 24h"
	ReviewWithin string `json:"reviewWithin,omitempty"`
}

// BreakGlassRecord is the subject's own approval of their request in an
// emergency, by the user the API server authenticated.
type BreakGlassRecord struct {
	// User is the subject who broke the glass.
	// +kubebuilder:validation:MaxLength=512
	User string `json:"user"`
	// At is when the break-glass was admitted.
	At metav1.Time `json:"at"`
	// Reason is the value given to elevator.dev/break-glass.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`
}

// ReviewRecord is an approver's review of a break-glass use after the fact.
type ReviewRecord struct {
	// User is the approver who reviewed it.
	// +kubebuilder:validation:MaxLength=512
	User string `json:"user"`
	// At is when the review was admitted.
	At metav1.Time `json:"at"`
	// Comment is the value given to elevator.dev/review.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Comment string `json:"comment,omitempty"`
}

// BreakGlassStatus is the record of a break-glass use and its review.
type BreakGlassStatus struct {
	// Used is the subject's break-glass.
	Used BreakGlassRecord `json:"used"`
	// ReviewDeadline is when the review is due: used.at plus the role's
	// breakGlass.reviewWithin.
	// +optional
	ReviewDeadline *metav1.Time `json:"reviewDeadline,omitempty"`
	// Review is the approver's review, once given.
	// +optional
	Review *ReviewRecord `json:"review,omitempty"`
}

// ReasonBreakGlass is the reason of the Approved condition and the Warning
// Event of a request its subject approved by break-glass; ReasonReviewOverdue
// that of the Warning Event when its review is past its deadline.
const (
	ReasonBreakGlass    = "BreakGlass"
	ReasonReviewOverdue = "BreakGlassReviewOverdue"
)
