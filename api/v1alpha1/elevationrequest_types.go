package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Phase is where an ElevationRequest is in its lifecycle.
// +kubebuilder:validation:Enum=Pending;Approved;Active;Revoking;Revoked;Denied;Expired;Failed
type Phase string

const (
	PhasePending  Phase = "Pending"
	PhaseApproved Phase = "Approved"
	PhaseActive   Phase = "Active"
	PhaseRevoking Phase = "Revoking"
	PhaseRevoked  Phase = "Revoked"
	PhaseDenied   Phase = "Denied"
	PhaseExpired  Phase = "Expired"
	PhaseFailed   Phase = "Failed"
)

// IsTerminal reports whether nothing more happens to a request in this phase.
func (p Phase) IsTerminal() bool {
	switch p {
	case PhaseRevoked, PhaseDenied, PhaseExpired, PhaseFailed:
		return true
	}
	return false
}

// MaxTargets bounds spec.targets: how many systems one request may reach.
const MaxTargets = 16

// ElevationRequestSpec asks for one role of one connection (connection and
// role), or for one role in each of several connections (targets), for one
// subject, for a fixed duration. It cannot be changed once created.
// +kubebuilder:validation:XValidation:rule="has(self.targets) ? !has(self.connection) && !has(self.role) : has(self.connection) && has(self.role)",message="spec: give either connection and role, or targets, not both"
type ElevationRequestSpec struct {
	// Subject is who gets the role: the user name in the target system.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.trim() == self && self.size() > 0",message="spec.subject must not be blank or have leading or trailing spaces"
	Subject string `json:"subject"`

	// Connection is the name of a SaaSConnection in the request's namespace.
	// Set with role, unless targets is set.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Connection string `json:"connection,omitempty"`

	// Role is the name of a role of the connection. Set with connection,
	// unless targets is set.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Role string `json:"role,omitempty"`

	// Targets asks for several roles at once, each of a connection in the
	// request's namespace, instead of connection and role: granted all or
	// nothing, approved per target by the approvers of its connection, ended
	// together at one expiresAt, each removal verified on its own.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(t, self.exists_one(u, u.connection == t.connection && u.role == t.role))",message="spec.targets must not name the same connection and role twice"
	Targets []Target `json:"targets,omitempty"`

	// Duration of the access, as a Go duration such as 30m. Counted from the
	// moment access is granted. At most the role's maxDuration.
	// +required
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s')",message="spec.duration must be a positive Go duration such as 30m or 1h30m"
	Duration string `json:"duration"`

	// Justification says why the access is needed; it is shown to approvers and kept for audit.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.trim().size() > 0",message="spec.justification must not be blank"
	Justification string `json:"justification"`

	// Ticket is an optional reference to an incident or change ticket.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Ticket string `json:"ticket,omitempty"`
}

// Target is one role of one connection.
type Target struct {
	// Connection is the name of a SaaSConnection in the request's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Connection string `json:"connection"`
	// Role is the name of a role of the connection.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Role string `json:"role"`
}

// String is the target as connection/role.
func (t Target) String() string { return t.Connection + "/" + t.Role }

// TargetsOf is what the spec asks for: its targets, or its one connection and
// role as a single target.
func (s *ElevationRequestSpec) TargetsOf() []Target {
	if len(s.Targets) > 0 {
		return s.Targets
	}
	return []Target{{Connection: s.Connection, Role: s.Role}}
}

// ForTarget is the spec as if it asked for target alone: the checks of one
// connection and role apply to each target of a request unchanged.
func (s *ElevationRequestSpec) ForTarget(t Target) ElevationRequestSpec {
	one := *s
	one.Connection, one.Role, one.Targets = t.Connection, t.Role, nil
	return one
}

// IsMultiTarget reports whether the request uses spec.targets: its per-target
// state is then in status.targets, and the top-level grant fields sum it up.
func (s *ElevationRequestSpec) IsMultiTarget() bool { return len(s.Targets) > 0 }

// Bounds of what a request holds. The webhook enforces the same numbers on the
// annotations it accepts, so a write is refused at the door rather than by the
// schema when the operator copies it into status.
const (
	// MaxApprovals bounds status.approvals (maxItems below) and the approvals
	// record.
	MaxApprovals = 16
	// MaxRecordText bounds an approval's comment and a denial's or revocation's
	// reason, in bytes.
	MaxRecordText = 1024
)

// ApprovalRecord is one approval, by the user the API server authenticated.
type ApprovalRecord struct {
	// User is the approver, as the API server authenticated the request that set
	// the elevator.dev/approve annotation; never a name anyone typed.
	// +kubebuilder:validation:MaxLength=512
	User string `json:"user"`
	// At is when the approval was admitted.
	At metav1.Time `json:"at"`
	// Comment is the value given to elevator.dev/approve.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Comment string `json:"comment,omitempty"`
	// Connections are the connections of spec.targets the approver held the
	// approve verb on when the approval was admitted: the approval counts
	// for those targets only. Empty on a request with one connection.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	Connections []string `json:"connections,omitempty"`
}

// DenialRecord is the denial of a request, by the user the API server authenticated.
type DenialRecord struct {
	// User is the approver who denied, as the API server authenticated them.
	// +kubebuilder:validation:MaxLength=512
	User string `json:"user"`
	// At is when the denial was admitted.
	At metav1.Time `json:"at"`
	// Reason is the value given to elevator.dev/deny.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`
}

// RevokeRecord is an early revocation asked for by a user.
type RevokeRecord struct {
	// User is who asked for the early revocation (the subject or an approver),
	// as the API server authenticated them.
	// +kubebuilder:validation:MaxLength=512
	User string `json:"user"`
	// At is when the revocation was admitted.
	At metav1.Time `json:"at"`
	// Reason is the value given to elevator.dev/revoke.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`
}

// GrantAttempt is the intent to grant, recorded before the provider is called so
// that a crash between the call and the status write is found and converged on
// instead of leaking access.
type GrantAttempt struct {
	// StartedAt is when the operator decided to grant.
	StartedAt metav1.Time `json:"startedAt"`
	// Preexisting is true when the entitlement was already present in the target
	// before this request, and no other Elevator request held it: standing access
	// that Elevator did not make and will not remove.
	// +optional
	Preexisting bool `json:"preexisting,omitempty"`
	// Evidence is what the pre-grant check read.
	// +optional
	Evidence string `json:"evidence,omitempty"`
	// Role is the connection's role as it was when the grant began. Revocation
	// removes what was granted, even if the connection's role changes meanwhile.
	Role Role `json:"role"`
	// Target is what the grant resolved to in the target system, stored with the
	// grant. Revoke and Check act on it, never on a fresh resolution through the
	// connection's current settings. Absent on requests granted before Elevator
	// stored it; those are revoked by resolving again, and their evidence says so.
	// +optional
	Target *GrantTarget `json:"target,omitempty"`
	// Verification is what the fresh read of the target showed once the grant
	// was made.
	// +optional
	Verification string `json:"verification,omitempty"`
	// Error is why the provider refused the grant for good; anything partly
	// granted was then removed, and the request ends Failed.
	// +optional
	Error string `json:"error,omitempty"`
}

// Blocker is what keeps a request from moving on at its last look: the
// connection is missing, the role is not in it, or a grant or revocation
// attempt failed and is being retried. It is cleared when the request moves on.
type Blocker struct {
	// Reason is a CamelCase word: ConnectionNotFound, PolicyViolation,
	// GrantFailed, RevokeFailed, VerificationFailed or StillPresent.
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason"`
	// Message says what is wrong, for a person.
	Message string `json:"message"`
}

// GrantTarget is the identity a grant resolved to in the target system.
type GrantTarget struct {
	// Endpoint is the system the grant was made in: the SCIM base URL, the LDAP
	// URL, PostgreSQL host:port/database, or "kubernetes" for the operator's
	// own cluster.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Endpoint string `json:"endpoint,omitempty"`
	// Subject is the subject's identity in the target: a SCIM user, an LDAP
	// entry (id is its DN), a PostgreSQL role (id is its OID).
	// +optional
	Subject *TargetObject `json:"subject,omitempty"`
	// Group is what the subject was made a member of: a SCIM group, an LDAP
	// group (id is its DN), a PostgreSQL role (id is its OID).
	// +optional
	Group *TargetObject `json:"group,omitempty"`
	// Bindings are the objects made for the request (the kubernetes provider's
	// RoleBindings or ClusterRoleBinding).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Bindings []BindingRef `json:"bindings,omitempty"`
}

// TargetObject is one object in the target, by its stable id and its name.
type TargetObject struct {
	// ID is the target's stable identifier of the object.
	// +kubebuilder:validation:MaxLength=1024
	ID string `json:"id"`
	// Name is its name when the grant was made.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Name string `json:"name,omitempty"`
}

// BindingRef names one RBAC binding.
type BindingRef struct {
	// Kind is RoleBinding or ClusterRoleBinding.
	// +kubebuilder:validation:Enum=RoleBinding;ClusterRoleBinding
	Kind string `json:"kind"`
	// Namespace of a RoleBinding; empty for a ClusterRoleBinding.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
	// Name of the binding the operator made.
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ResidualAccessPath is one way the subject still holds the role's access after
// Elevator's grant is gone: another binding, group or role.
type ResidualAccessPath struct {
	// Name says what grants the access, e.g. "RoleBinding payments/backdoor".
	// +kubebuilder:validation:MaxLength=1024
	Name string `json:"name"`
	// CreatedAt is when the target says that path was created, if it can tell.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// InsideWindow is true when CreatedAt lies within [grantedAt, revokedAt]:
	// the path was made while the subject was elevated, a likely backdoor.
	// +optional
	InsideWindow bool `json:"insideWindow,omitempty"`
	// MadeWhileElevated names the action in status.activity.accessChanges
	// that made this path, when the subject made it while elevated.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	MadeWhileElevated string `json:"madeWhileElevated,omitempty"`
}

// Revocation is how access ended and how its removal was verified.
type Revocation struct {
	// Reason: Expired, EarlyRevoke, Deleted or GrantFailed.
	// +kubebuilder:validation:Enum=Expired;EarlyRevoke;Deleted;GrantFailed
	Reason string `json:"reason"`
	// RequestedBy is the user who revoked early, if anyone did.
	// +optional
	RequestedBy string `json:"requestedBy,omitempty"`
	// StartedAt is when the operator began revoking.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// VerifiedAt is when a fresh read of the target showed the entitlement gone.
	// +optional
	VerifiedAt *metav1.Time `json:"verifiedAt,omitempty"`
	// Method is how the removal was verified.
	// +optional
	Method string `json:"method,omitempty"`
	// Detail is the evidence the verification read.
	// +optional
	Detail string `json:"detail,omitempty"`
	// RetainedBy names another active request that holds the same entitlement, so
	// it is not removed until that one ends.
	// +optional
	RetainedBy string `json:"retainedBy,omitempty"`
	// Attempts counts failed revoke or verification attempts.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
}

// TargetState is what a request holds in one target system: the grant, how
// it ended, what access remained and what the subject did.
type TargetState struct {
	// Grant is the operator's record of the grant: the role as it was when the
	// grant began, which revocation removes even if the connection changes.
	// +optional
	Grant *GrantAttempt `json:"grant,omitempty"`
	// GrantedAt is when the access was granted and read back from the target,
	// to the second.
	// +optional
	GrantedAt *metav1.Time `json:"grantedAt,omitempty"`
	// Revocation is how the access ended and how its removal was verified.
	// +optional
	Revocation *Revocation `json:"revocation,omitempty"`
	// ResidualAccess lists the paths by which the subject still held the role's
	// access when Elevator's grant was verified gone (see the ResidualAccess
	// condition).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	ResidualAccess []ResidualAccessPath `json:"residualAccess,omitempty"`
	// Activity is what the subject did in the target while elevated, read
	// from the target's own audit log (see docs/activity.md).
	// +optional
	Activity *Activity `json:"activity,omitempty"`
}

// TargetStatus is the state of one target of spec.targets.
type TargetStatus struct {
	// Connection is the target's connection, as in spec.targets.
	// +kubebuilder:validation:MaxLength=253
	Connection string `json:"connection"`
	// Role is the target's role, as in spec.targets.
	// +kubebuilder:validation:MaxLength=63
	Role string `json:"role"`
	// Phase is where this target is: Pending (waiting for its approvals),
	// Approved (granting), Active, Revoking, Revoked, or Failed (its grant
	// failed for good, and anything partly granted was removed).
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// RequiredApprovals is how many approvals the target's role needs.
	// +optional
	RequiredApprovals int32 `json:"requiredApprovals,omitempty"`
	// Approvals is how many of status.approvals count for this target: those
	// by an approver of its connection.
	// +optional
	Approvals int32 `json:"approvals,omitempty"`
	// TargetState is the target's grant, revocation, residual access and
	// activity.
	TargetState `json:",inline"`
	// Blocked is what keeps this target from moving on at its last look.
	// +optional
	Blocked *Blocker `json:"blocked,omitempty"`
	// Message is a human-readable account of the target's phase.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Message string `json:"message,omitempty"`
}

// String is the target as connection/role.
func (t *TargetStatus) String() string { return t.Connection + "/" + t.Role }

// ElevationRequestStatus is the lifecycle of a request, written by the operator only.
type ElevationRequestStatus struct {
	// Phase is where the request is in its lifecycle: Pending (waiting for
	// approval), Approved (granting), Active (access granted until expiresAt),
	// Revoking (removing the access and verifying it gone), or one of the
	// terminal phases Revoked, Denied, Expired (not approved within the
	// connection's pendingTimeout) and Failed (the grant could not be made, and
	// anything partly granted was removed).
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// RequestedBy is the user who created the request, as the API server
	// authenticated them.
	// +optional
	RequestedBy string `json:"requestedBy,omitempty"`
	// Approvals are the approvals admitted so far, one per approver, each by
	// the user the API server authenticated. Approvals by the subject or the
	// requester are never admitted or counted.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Approvals []ApprovalRecord `json:"approvals,omitempty"`
	// RequiredApprovals is how many approvals the role needs, as its
	// connection said when the request was last looked at before approval;
	// with spec.targets, the most any target needs (each target's own count
	// is in status.targets).
	// +optional
	RequiredApprovals int32 `json:"requiredApprovals,omitempty"`
	// ApprovedAt is when the request had all the approvals its role needs.
	// +optional
	ApprovedAt *metav1.Time `json:"approvedAt,omitempty"`
	// ApprovedBy lists the approvers of status.approvals, comma-separated, for
	// the APPROVED-BY column of kubectl get -o wide.
	// +optional
	ApprovedBy string `json:"approvedBy,omitempty"`
	// BreakGlass is the subject's own emergency approval and its review by an
	// approver, when the role allows break-glass and the subject used it.
	// +optional
	BreakGlass *BreakGlassStatus `json:"breakGlass,omitempty"`
	// Denial is the denial that ended the request, if an approver denied it.
	// +optional
	Denial *DenialRecord `json:"denial,omitempty"`
	// TargetState is, for a request with one connection, its grant,
	// revocation, residual access and activity. For a request with
	// spec.targets each target has its own in status.targets; here grant and
	// activity are then unset, grantedAt is when the last target was
	// granted, and revocation sums up the targets' revocations (verifiedAt
	// is set only once every target's removal was verified).
	TargetState `json:",inline"`
	// ExpiresAt is when the access is gone at the latest, to the millisecond:
	// the start of the grant (with spec.targets, the first target's; one
	// instant for all) + spec.duration + the operator's expiry lead. The
	// revocation starts the lead before it, so the access lasts
	// spec.duration (plus the removal's own time, well within the lead) and
	// never outlives expiresAt.
	// +optional
	ExpiresAt *MilliTime `json:"expiresAt,omitempty"`
	// RevokedAt is when the request ended, to the millisecond: the access was
	// verified gone, or the request was withdrawn before anything was
	// granted. It ends the window whose activity is recorded.
	// +optional
	RevokedAt *MilliTime `json:"revokedAt,omitempty"`
	// Targets is the state of each target of spec.targets, in its order.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Targets []TargetStatus `json:"targets,omitempty"`
	// Target names what the request is for, compactly, for kubectl get:
	// "connection/role", or the first target and how many more.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Target string `json:"target,omitempty"`
	// TargetList names every target, comma-separated, for kubectl get -o wide.
	// +optional
	// +kubebuilder:validation:MaxLength=8192
	TargetList string `json:"targetList,omitempty"`
	// Notified lists the notifications delivered, one per sink and event, so
	// that none is sent twice across restarts.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	Notified []NotificationRecord `json:"notified,omitempty"`
	// Blocked is what keeps the request from moving on at its last look, if
	// anything does; the operator keeps retrying.
	// +optional
	Blocked *Blocker `json:"blocked,omitempty"`
	// Message is a human-readable account of the current phase.
	// +optional
	Message string `json:"message,omitempty"`
	// Conditions are the request's state in the Kubernetes convention, all
	// derived from the other status fields: Approved, Granted, Revoked,
	// RevocationVerified (True only once a fresh read of the target showed
	// Elevator's grant gone), ResidualAccess, Ready (True while the access is
	// active), ActivityRecorded (status.activity: Unknown while collecting,
	// True when complete), and Reconciling and Stalled (present only while
	// True, for kstatus-based GitOps tools: see docs/gitops.md).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the metadata.generation the status was written for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// ElevationRequest asks for a privileged role in a downstream system for a fixed
// window. It is granted only after enough authorised approvals, and revoked, with
// the removal verified, when the window ends.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=elevation;elevations;elev,categories=elevator
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Subject",type=string,JSONPath=`.spec.subject`
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.status.target`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Requested-By",type=string,JSONPath=`.status.requestedBy`,priority=1
// +kubebuilder:printcolumn:name="Approved-By",type=string,JSONPath=`.status.approvedBy`,priority=1
// +kubebuilder:printcolumn:name="Targets",type=string,JSONPath=`.status.targetList`,priority=1
// +kubebuilder:printcolumn:name="Verified",type=string,JSONPath=`.status.revocation.verifiedAt`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=1
type ElevationRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the access asked for; it cannot be changed once created.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable: create a new ElevationRequest to ask for different access"
	Spec ElevationRequestSpec `json:"spec"`
	// Status is the request's lifecycle, written by the operator only.
	// +optional
	Status ElevationRequestStatus `json:"status,omitempty"`
}

// ElevationRequestList is a list of ElevationRequests.
// +kubebuilder:object:root=true
type ElevationRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ElevationRequest `json:"items"`
}
