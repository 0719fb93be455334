package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultPendingTimeout is how long a request may wait for approval when the
// connection does not say.
const DefaultPendingTimeout = "24h"

// SaaSConnectionSpec is one downstream system and the policy for elevating into it.
// +kubebuilder:validation:XValidation:rule="self.roles.all(r, !has(r.maxDuration) || !r.maxDuration.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || !self.maxDuration.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(r.maxDuration) <= duration(self.maxDuration))",message="a role's maxDuration (spec.roles[].maxDuration) must not exceed the connection's spec.maxDuration",reason=FieldValueInvalid,fieldPath=".roles"
// +kubebuilder:validation:XValidation:rule="self.roles.all(r, has(r.kubernetes) == has(self.provider.kubernetes) && has(r.scim) == has(self.provider.scim) && has(r.ldap) == has(self.provider.ldap) && has(r.postgres) == has(self.provider.postgres))",message="every role in spec.roles must describe itself for the connection's provider: set the role block (kubernetes, scim, ldap or postgres) that matches spec.provider, and no other",reason=FieldValueInvalid,fieldPath=".roles"
type SaaSConnectionSpec struct {
	// Provider is the downstream system. Exactly one of its fields is set.
	// +required
	Provider ProviderSpec `json:"provider"`

	// MaxDuration caps the duration of every role of this connection, as a Go
	// duration such as 4h.
	// +required
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s')",message="spec.maxDuration must be a positive Go duration such as 30m or 4h"
	MaxDuration string `json:"maxDuration"`

	// PendingTimeout is how long a request may wait for approval before it
	// expires without ever being granted. Defaults to 24h.
	// +optional
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s')",message="spec.pendingTimeout must be a positive Go duration such as 24h"
	PendingTimeout string `json:"pendingTimeout,omitempty"`

	// Subjects is who may be given a role of this connection. By default only
	// people: never a "system:" name (system:anonymous, a node, a
	// ServiceAccount), unless allowServiceAccounts lets ServiceAccounts in.
	// +optional
	Subjects SubjectPolicy `json:"subjects,omitempty"`

	// Roles are the privileged roles a person may ask for.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Roles []Role `json:"roles"`

	// Notifications are the sinks the events of this connection's requests
	// are sent to (see docs/notifications.md). Delivery is at least once and
	// never delays a grant or a revocation.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	Notifications []NotificationSink `json:"notifications,omitempty"`
}

// SubjectPolicy restricts the subjects of a connection's requests.
type SubjectPolicy struct {
	// AllowServiceAccounts lets a request name a Kubernetes ServiceAccount
	// (system:serviceaccount:NAMESPACE:NAME) as its subject. Off by default: an
	// approver could otherwise approve access for a ServiceAccount they control.
	// +optional
	AllowServiceAccounts bool `json:"allowServiceAccounts,omitempty"`
	// Pattern is an RE2 regular expression the whole subject must match, e.g.
	// '[a-z0-9.]+@example\.com' for the people of one mail domain.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Pattern string `json:"pattern,omitempty"`
}

// ProviderSpec names the downstream system. Exactly one field is set.
// +kubebuilder:validation:XValidation:rule="(has(self.kubernetes) ? 1 : 0) + (has(self.scim) ? 1 : 0) + (has(self.ldap) ? 1 : 0) + (has(self.postgres) ? 1 : 0) == 1",message="spec.provider must set exactly one of kubernetes, scim, ldap, postgres"
type ProviderSpec struct {
	// Kubernetes is the cluster the operator runs in; access is granted with RBAC bindings.
	// +optional
	Kubernetes *KubernetesProvider `json:"kubernetes,omitempty"`
	// SCIM is a SaaS application managed over SCIM 2.0 (RFC 7643/7644); access is
	// granted as group membership.
	// +optional
	SCIM *SCIMProvider `json:"scim,omitempty"`
	// LDAP is an LDAP directory or Active Directory; access is granted as group membership.
	// +optional
	LDAP *LDAPProvider `json:"ldap,omitempty"`
	// Postgres is a PostgreSQL server; access is granted as role membership.
	// +optional
	Postgres *PostgresProvider `json:"postgres,omitempty"`
}

// Role is a privileged role of a connection, and the policy for it.
type Role struct {
	// Name is how an ElevationRequest names this role.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// MaxDuration caps the duration of a request for this role. It must not exceed
	// the connection's maxDuration, which is also its default.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s')",message="maxDuration must be a positive Go duration such as 30m or 1h"
	MaxDuration string `json:"maxDuration,omitempty"`

	// RequiredApprovals is the number of distinct approvers a request needs. 0
	// approves requests at once, for low-risk roles.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	RequiredApprovals *int32 `json:"requiredApprovals,omitempty"`

	// BreakGlass lets the subject approve their own request for this role in
	// an emergency (see BreakGlassPolicy); unset, nobody can.
	// +optional
	BreakGlass *BreakGlassPolicy `json:"breakGlass,omitempty"`

	// Kubernetes is what the role means in the cluster.
	// +optional
	Kubernetes *KubernetesRole `json:"kubernetes,omitempty"`
	// SCIM is what the role means in the SCIM application.
	// +optional
	SCIM *SCIMRole `json:"scim,omitempty"`
	// LDAP is what the role means in the directory.
	// +optional
	LDAP *LDAPRole `json:"ldap,omitempty"`
	// Postgres is what the role means in the database.
	// +optional
	Postgres *PostgresRole `json:"postgres,omitempty"`
}

// LocalSecretReference names a Secret in the connection's namespace. Which keys
// the Secret holds depends on the provider.
type LocalSecretReference struct {
	// Name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SaaSConnectionStatus is the observed state of a SaaSConnection.
type SaaSConnectionStatus struct {
	// Conditions: Ready is False, with a reason, when the provider's health check
	// fails (unreachable, bad credentials, misconfigured).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Provider is the kind of downstream system: kubernetes, scim, ldap or postgres.
	// +optional
	Provider string `json:"provider,omitempty"`

	// ObservedGeneration is the generation the conditions were computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// SaaSConnection is one downstream system and the policy for elevating into it.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=saasconn;conn,categories=elevator
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.status.provider`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SaaSConnection struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec SaaSConnectionSpec `json:"spec"`
	// +optional
	Status SaaSConnectionStatus `json:"status,omitempty"`
}

// SaaSConnectionList is a list of SaaSConnections.
// +kubebuilder:object:root=true
type SaaSConnectionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SaaSConnection `json:"items"`
}
