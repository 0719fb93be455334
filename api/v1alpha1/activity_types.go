package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ActivityState says how far the record of what the subject did while elevated
// can be trusted.
// +kubebuilder:validation:Enum=Collecting;Complete;Partial;Unavailable
type ActivityState string

const (
	// ActivityCollecting: the window is open, or its source may still deliver
	// actions from it; counts grow.
	ActivityCollecting ActivityState = "Collecting"
	// ActivityComplete: the source delivered everything from the window, and
	// nothing was lost on the way. Final.
	ActivityComplete ActivityState = "Complete"
	// ActivityPartial: some actions may be missing; reason and message say
	// why (events dropped under load, the source unreachable for part of the
	// window, an operator restart). What was recorded is true; the absence of
	// an action is not proof it did not happen.
	ActivityPartial ActivityState = "Partial"
	// ActivityUnavailable: the connection's target keeps no audit log
	// Elevator can read (Active Directory over LDAP, a SCIM app without an
	// activity source); reason and message say why. Never an empty record
	// that looks like "did nothing".
	ActivityUnavailable ActivityState = "Unavailable"
)

// ActivityCategory groups actions for the counts.
// +kubebuilder:validation:Enum=Config;Access;Data;Other
type ActivityCategory string

const (
	// ActivityConfig: a change of configuration or schema (a Deployment, a
	// ConfigMap, CREATE TABLE, an LDAP entry other than a group's members).
	ActivityConfig ActivityCategory = "Config"
	// ActivityAccess: a change of who may do what (a RoleBinding, GRANT,
	// CREATE ROLE, a group member added or removed). Each is flagged: a
	// Warning Event, a metric, and status.activity.accessChanges.
	ActivityAccess ActivityCategory = "Access"
	// ActivityData: a change of data (INSERT, UPDATE, DELETE, a Secret's
	// contents, an exec into a pod).
	ActivityData ActivityCategory = "Data"
	// ActivityOther: anything else the source logs.
	ActivityOther ActivityCategory = "Other"
)

// Bounds of status.activity: the object must stay small whatever the subject
// does. Everything beyond them is in the audit trail, one line per action.
const (
	// MaxRecentActions bounds status.activity.recent and .accessChanges.
	MaxRecentActions = 10
	// MaxActivityText bounds the text fields of one action, in bytes.
	MaxActivityText = 512
)

// Reasons of status.activity and of the ActivityRecorded condition.
const (
	// ReasonActivityCollecting: the source may still deliver actions.
	ReasonActivityCollecting = "Collecting"
	// ReasonActivityComplete: everything from the window was delivered.
	ReasonActivityComplete = "Complete"
	// ReasonNoActivitySource: the connection's provider, or its
	// configuration, has no audit source Elevator can read.
	ReasonNoActivitySource = "NoActivitySource"
	// ReasonActivityDropped: the receiver's buffer was full and actions were
	// dropped (counted in status.activity.counts.dropped).
	ReasonActivityDropped = "ActionsDropped"
	// ReasonActivitySourceGap: the source lost part of the window (an
	// operator restart emptied the receiver's buffer, a log file rotated away
	// before it was read); the message says which part.
	ReasonActivitySourceGap = "SourceGap"
	// ReasonActivitySourceFailed: the source could not be read until the
	// collection's deadline passed.
	ReasonActivitySourceFailed = "SourceFailed"
	// ReasonActivityConnectionGone: the request's connection was deleted
	// before collection finished.
	ReasonActivityConnectionGone = "ConnectionNotFound"
)

// ConditionActivityRecorded summarises status.activity: Unknown while
// collecting, True when Complete, False when Partial or Unavailable.
const ConditionActivityRecorded = "ActivityRecorded"

// ActivityCounts counts the subject's actions in the window.
type ActivityCounts struct {
	// Total is every action recorded, allowed or denied.
	// +optional
	Total int64 `json:"total,omitempty"`
	// Config counts configuration changes.
	// +optional
	Config int64 `json:"config,omitempty"`
	// Access counts changes of who may do what.
	// +optional
	Access int64 `json:"access,omitempty"`
	// Data counts changes of data.
	// +optional
	Data int64 `json:"data,omitempty"`
	// Other counts the remaining actions.
	// +optional
	Other int64 `json:"other,omitempty"`
	// Denied counts attempts the target refused.
	// +optional
	Denied int64 `json:"denied,omitempty"`
	// NotViaElevation counts allowed actions the target says were allowed by
	// access other than the elevation's own grant (another binding, say).
	// +optional
	NotViaElevation int64 `json:"notViaElevation,omitempty"`
	// Dropped counts actions the operator received but could not keep (its
	// buffer was full); any makes the record Partial.
	// +optional
	Dropped int64 `json:"dropped,omitempty"`
}

// ActivityAction is one action the subject took in the target while elevated.
type ActivityAction struct {
	// At is when the target says the action happened.
	At metav1.MicroTime `json:"at"`
	// ID is the source's identifier of the action (the audit ID, the log
	// position), which de-duplicates it.
	// +kubebuilder:validation:MaxLength=512
	ID string `json:"id"`
	// Category is what kind of change the action was.
	Category ActivityCategory `json:"category"`
	// Action is what was done, in the source's words: "create", "UPDATE",
	// "modify", "group.user_membership.add".
	// +kubebuilder:validation:MaxLength=512
	Action string `json:"action"`
	// Object is what it was done to, e.g. "RoleBinding payments/backdoor",
	// "TABLE public.accounts", an LDAP DN.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Object string `json:"object,omitempty"`
	// ImpersonatedBy is the user who acted as the subject by impersonation,
	// when the source says one did.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	ImpersonatedBy string `json:"impersonatedBy,omitempty"`
	// Denied is true when the target refused the action.
	// +optional
	Denied bool `json:"denied,omitempty"`
	// NotViaElevation is true when the target says the action was allowed by
	// access other than the elevation's own grant.
	// +optional
	NotViaElevation bool `json:"notViaElevation,omitempty"`
}

// Activity is the record of what the subject did in the target while elevated,
// collected from the target's own audit log from the grant until the
// revocation plus the source's delivery delay.
type Activity struct {
	// State: Collecting, Complete, Partial or Unavailable.
	State ActivityState `json:"state"`
	// Reason is a CamelCase word saying why the state is what it is.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason,omitempty"`
	// Message says it for a person: the summary, or what is missing and why.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
	// Source names the audit log read, e.g. "kube-apiserver audit webhook",
	// "pgaudit", "OpenLDAP accesslog", "Okta System Log".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Source string `json:"source,omitempty"`
	// CollectedThrough is the instant up to which the source has delivered
	// every action it will deliver, to the millisecond, as revokedAt, the
	// window's end it is compared with.
	// +optional
	CollectedThrough *MilliTime `json:"collectedThrough,omitempty"`
	// CollectUntil is revokedAt plus the source's delivery delay: collection
	// ends once collectedThrough passes it.
	// +optional
	CollectUntil *MilliTime `json:"collectUntil,omitempty"`
	// FinishedAt is when collection ended; the record no longer changes.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// Counts counts the actions in the window.
	// +optional
	Counts ActivityCounts `json:"counts,omitempty"`
	// Recent are the last actions recorded, oldest first; the audit trail has
	// every one.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	Recent []ActivityAction `json:"recent,omitempty"`
	// AccessChanges are the first changes of who may do what made while
	// elevated (a binding, a GRANT, a group member added): the likeliest
	// backdoors, each also a Warning Event.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	AccessChanges []ActivityAction `json:"accessChanges,omitempty"`
	// Cursor is where the next read of the source starts, in the source's
	// own terms (a log file and offset, the last entry read).
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Cursor string `json:"cursor,omitempty"`
}
