package v1alpha1

// Annotations on an ElevationRequest. Users write the trigger annotations with
// kubectl annotate; the admission webhook consumes each trigger, checks who wrote
// it, and folds it into the record annotations, which only the webhook may change.
// The lifecycle controller reads the records and copies them into status.
const (
	AnnotationPrefix = "elevator.dev/"

	// AnnotationApprove is the trigger an approver sets; its value is a comment.
	AnnotationApprove = AnnotationPrefix + "approve"
	// AnnotationDeny is the trigger an approver sets; its value is the reason.
	AnnotationDeny = AnnotationPrefix + "deny"
	// AnnotationRevoke is the trigger the subject, the requester or an approver
	// sets to end access early; its value is the reason.
	AnnotationRevoke = AnnotationPrefix + "revoke"
	// AnnotationBreakGlass is the trigger the subject sets to approve their own
	// request in an emergency, when the role allows it and they hold the RBAC
	// verb breakglass on the connection; its value is the reason.
	AnnotationBreakGlass = AnnotationPrefix + "break-glass"
	// AnnotationReview is the trigger an approver sets to review a break-glass
	// use after the fact; its value is a comment.
	AnnotationReview = AnnotationPrefix + "review"

	// AnnotationApprovals records the approvals: a JSON list of ApprovalRecord.
	AnnotationApprovals = AnnotationPrefix + "approvals"
	// AnnotationDenial records the denial: a JSON DenialRecord.
	AnnotationDenial = AnnotationPrefix + "denial"
	// AnnotationRevocation records an early revocation: a JSON RevokeRecord.
	AnnotationRevocation = AnnotationPrefix + "revocation"
	// AnnotationBreakGlassRecord records a break-glass use: a JSON BreakGlassRecord.
	AnnotationBreakGlassRecord = AnnotationPrefix + "break-glass-record"
	// AnnotationReviewRecord records the review of a break-glass use: a JSON ReviewRecord.
	AnnotationReviewRecord = AnnotationPrefix + "review-record"
	// AnnotationRequestedBy records the user who created the request.
	AnnotationRequestedBy = AnnotationPrefix + "requested-by"
	// AnnotationRecordsSignature is the webhook's HMAC-SHA256 over the request
	// and all its records (internal/records); the controller ignores records
	// whose signature does not verify.
	AnnotationRecordsSignature = AnnotationPrefix + "records-signature"

	// AnnotationExtends names the request a follow-on request extends (set by
	// kubectl elevate extend). It is informational: the webhook neither
	// consumes nor signs it, and the controller gives it no meaning; a
	// follow-on keeps access without a gap because requests for the same
	// connection, role and subject overlap (see docs/kubectl-elevate.md).
	AnnotationExtends = AnnotationPrefix + "extends"
)

// Labels the operator puts on what it creates in a target cluster.
const (
	LabelRequestName      = AnnotationPrefix + "request-name"
	LabelRequestNamespace = AnnotationPrefix + "request-namespace"
	LabelManagedBy        = "app.kubernetes.io/managed-by"
	ManagedByValue        = "elevator"
)

// Finalizer keeps an ElevationRequest until its access is revoked and verified.
const Finalizer = AnnotationPrefix + "revoke-before-delete"
