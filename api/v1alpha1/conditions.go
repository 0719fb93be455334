package v1alpha1

// Condition types of an ElevationRequest. The operator derives all of them from
// the other status fields in one place, each time it writes status.
const (
	ConditionApproved           = "Approved"
	ConditionGranted            = "Granted"
	ConditionRevoked            = "Revoked"
	ConditionRevocationVerified = "RevocationVerified"
	ConditionReady              = "Ready"
	// ConditionResidualAccess is True when, after Elevator's own grant was
	// verified gone, the subject still holds the role's access by another path
	// (status.residualAccess names each). RevocationVerified says nothing about
	// those paths: it means Elevator's grant is gone.
	ConditionResidualAccess = "ResidualAccess"
	// ConditionReconciling is True while the request is on its way to a
	// steady state (waiting for approval, granting, revoking); absent otherwise.
	// With Stalled it follows the kstatus convention GitOps tools read.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True while the request cannot move on without
	// someone acting: its connection or role is missing, a revocation keeps
	// failing, or the grant was refused. Absent otherwise.
	ConditionStalled = "Stalled"
)

// Revocation reasons: why access ended (status.revocation.reason). The Revoked
// condition carries them as its reason.
const (
	RevocationExpired   = "Expired"
	RevocationEarly     = "EarlyRevoke"
	RevocationDeleted   = "Deleted"
	RevocationGrantUndo = "GrantFailed"
)

// Reasons of the ElevationRequest conditions, and of the Events the operator
// records for the same transitions. Dashboards and health checks may rely on
// them.
const (
	// ReasonAwaitingApproval: the request waits for approvals (Approved, Ready,
	// Reconciling False/True).
	ReasonAwaitingApproval = "AwaitingApproval"
	// ReasonApproved: the request has all the approvals its role needs.
	ReasonApproved = "Approved"
	// ReasonDenied: an approver denied the request.
	ReasonDenied = "Denied"
	// ReasonPendingTimeout: not approved within the connection's pendingTimeout.
	ReasonPendingTimeout = "PendingTimeout"
	// ReasonConnectionNotFound: the request's SaaSConnection does not exist.
	ReasonConnectionNotFound = "ConnectionNotFound"
	// ReasonPolicyViolation: the connection, the role or the operator's policy
	// forbids the grant.
	ReasonPolicyViolation = "PolicyViolation"
	// ReasonGrantStarted: the intent to grant is recorded; the grant is underway.
	ReasonGrantStarted = "GrantStarted"
	// ReasonGranted: the access was granted and read back from the target.
	ReasonGranted = "Granted"
	// ReasonGrantFailed: the provider refused the grant (retried unless it
	// refused for good).
	ReasonGrantFailed = "GrantFailed"
	// ReasonNeverGranted: the request ended without anything being granted.
	ReasonNeverGranted = "NeverGranted"
	// ReasonStandingAccess: the subject had the access before the request and
	// Elevator did not make it, so Elevator leaves it in place.
	ReasonStandingAccess = "StandingAccess"
	// ReasonRevoking: the access is being removed.
	ReasonRevoking = "Revoking"
	// ReasonRetained: another request holds the same shared entitlement; it is
	// removed when the last holder ends.
	ReasonRetained = "RetainedByOtherRequest"
	// ReasonRevokeFailed: the provider's revoke call failed; retried.
	ReasonRevokeFailed = "RevokeFailed"
	// ReasonVerifyFailed: the fresh read after the revoke failed; retried.
	ReasonVerifyFailed = "VerificationFailed"
	// ReasonStillPresent: the fresh read after the revoke still shows the
	// access; retried.
	ReasonStillPresent = "StillPresent"
	// ReasonVerified: a fresh read of the target showed the access gone.
	ReasonVerified = "Verified"
	// ReasonResidualAccess: the subject still holds the access by another path.
	ReasonResidualAccess = "ResidualAccess"
	// ReasonNoResidualAccess: no other path to the access was found.
	ReasonNoResidualAccess = "NoneFound"
	// ReasonConnectionChanged (an Event only): the connection no longer leads
	// to what the grant was made on; the revocation acted on the stored identity.
	ReasonConnectionChanged = "ConnectionChanged"
)

// Reasons of a SaaSConnection's Ready condition.
const (
	// ReasonHealthy: the provider is reachable and accepts the credentials.
	ReasonHealthy = "Healthy"
	// ReasonInsecure: Ready is True, but the connection runs with an insecure
	// transport its author allowed explicitly; the message says what.
	ReasonInsecure = "Insecure"
	// ReasonCannotConnect: the provider could not be reached; retried.
	ReasonCannotConnect = "CannotConnect"
	// ReasonInvalidConfiguration: retrying will not help until the connection or
	// its credentials are fixed.
	ReasonInvalidConfiguration = "InvalidConfiguration"
	// ReasonEndpointNotAllowed: --allowed-endpoint-hosts refuses the endpoint;
	// it is never contacted.
	ReasonEndpointNotAllowed = "EndpointNotAllowed"
)
