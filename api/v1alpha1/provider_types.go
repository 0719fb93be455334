package v1alpha1

// LabelCredentials is the label a Secret must carry, with the value "true", before
// any connection may read credentials from it. Without it a connection author could
// point credentialsSecretRef at any Secret of the namespace.
const LabelCredentials = "elevator.dev/credentials" //nolint:gosec // a label name, not a credential

// KubernetesProvider is the cluster the operator runs in. It has no settings: the
// operator uses its own ServiceAccount, which needs the RBAC verb "bind" on every
// ClusterRole a role of this connection hands out.
type KubernetesProvider struct{}

// KubernetesRole binds a ClusterRole to the subject, as a User, either in a list
// of namespaces (one RoleBinding each) or cluster-wide (one ClusterRoleBinding).
// +kubebuilder:validation:XValidation:rule="(has(self.namespaces) && size(self.namespaces) > 0) != (has(self.clusterWide) && self.clusterWide)",message="kubernetes role must set either namespaces (a RoleBinding in each) or clusterWide: true (a ClusterRoleBinding), not both and not neither"
type KubernetesRole struct {
	// ClusterRole is the name of the ClusterRole to bind.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ClusterRole string `json:"clusterRole"`

	// Namespaces to bind the ClusterRole in, one RoleBinding each.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespaces []string `json:"namespaces,omitempty"`

	// ClusterWide binds the ClusterRole with a ClusterRoleBinding.
	// +optional
	ClusterWide bool `json:"clusterWide,omitempty"`
}

// SCIMProvider is a SaaS application that speaks SCIM 2.0.
// +kubebuilder:validation:XValidation:rule="self.url.startsWith('https://') || (has(self.allowInsecureHTTP) && self.allowInsecureHTTP)",message="spec.provider.scim.url must start with https://; plain http sends the bearer token unencrypted and needs allowInsecureHTTP: true"
type SCIMProvider struct {
	// URL is the SCIM base URL, e.g. https://example.com/scim/v2. It must be
	// https unless allowInsecureHTTP is set.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (url(self).getScheme() == 'https' || url(self).getScheme() == 'http') && url(self).getHostname() != ''",message="spec.provider.scim.url must be an http or https URL with a host"
	URL string `json:"url"`

	// AllowInsecureHTTP permits an http:// URL, which sends the bearer token and
	// every request unencrypted. The connection's Ready condition then has reason
	// Insecure. Defaults to false.
	// +optional
	AllowInsecureHTTP bool `json:"allowInsecureHTTP,omitempty"`

	// CredentialsSecretRef names a Secret with the bearer token under key "token".
	// The Secret must carry the label elevator.dev/credentials: "true".
	// +required
	CredentialsSecretRef LocalSecretReference `json:"credentialsSecretRef"`

	// CABundle is PEM-encoded CA certificates to trust for the server, in place
	// of the system roots.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	CABundle string `json:"caBundle,omitempty"`

	// Timeout for one HTTP request, as a Go duration. Defaults to 10s.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s')",message="timeout must be a positive Go duration such as 10s"
	Timeout string `json:"timeout,omitempty"`

	// Activity is where the application's audit log is read, to record what
	// a subject did while elevated. SCIM itself has no audit API; without
	// this the request's status.activity is Unavailable.
	// +optional
	Activity *SCIMActivitySource `json:"activity,omitempty"`
}

// SCIMActivitySource is the audit log of a SCIM application: exactly one kind.
// +kubebuilder:validation:XValidation:rule="has(self.oktaSystemLog)",message="spec.provider.scim.activity must set oktaSystemLog"
type SCIMActivitySource struct {
	// OktaSystemLog reads the Okta System Log API (GET /api/v1/logs).
	// +optional
	OktaSystemLog *OktaSystemLogSource `json:"oktaSystemLog,omitempty"`
}

// OktaSystemLogSource is an Okta org's System Log.
// +kubebuilder:validation:XValidation:rule="self.url.startsWith('https://') || (has(self.allowInsecureHTTP) && self.allowInsecureHTTP)",message="spec.provider.scim.activity.oktaSystemLog.url must start with https://; plain http sends the API token unencrypted and needs allowInsecureHTTP: true"
type OktaSystemLogSource struct {
	// URL is the org's base URL, e.g. https://example.okta.com; the operator
	// reads {url}/api/v1/logs.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (url(self).getScheme() == 'https' || url(self).getScheme() == 'http') && url(self).getHostname() != ''",message="spec.provider.scim.activity.oktaSystemLog.url must be an http or https URL with a host"
	URL string `json:"url"`

	// AllowInsecureHTTP permits an http:// URL. Defaults to false.
	// +optional
	AllowInsecureHTTP bool `json:"allowInsecureHTTP,omitempty"`

	// CredentialsSecretRef names a Secret with a read-only API token under key
	// "token" (sent as "SSWS <token>"). The Secret must carry the label
	// elevator.dev/credentials: "true".
	// +required
	CredentialsSecretRef LocalSecretReference `json:"credentialsSecretRef"`

	// CABundle is PEM-encoded CA certificates to trust for the server.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	CABundle string `json:"caBundle,omitempty"`

	// DeliveryDelay is how long after an event the System Log may still
	// return it, as a Go duration. Defaults to 60s.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('0s')",message="deliveryDelay must be a Go duration such as 60s"
	DeliveryDelay string `json:"deliveryDelay,omitempty"`
}

// SCIMRole is a SCIM Group; the subject is added to it as a member.
// +kubebuilder:validation:XValidation:rule="has(self.group) != has(self.groupID)",message="scim role must set exactly one of group (displayName) and groupID"
type SCIMRole struct {
	// Group is the displayName of the SCIM Group.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Group string `json:"group,omitempty"`

	// GroupID is the id of the SCIM Group.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	GroupID string `json:"groupID,omitempty"`
}

// LDAPProvider is an LDAP directory (OpenLDAP, Active Directory).
// +kubebuilder:validation:XValidation:rule="self.url.startsWith('ldaps://') || (has(self.startTLS) && self.startTLS) || (has(self.allowInsecure) && self.allowInsecure)",message="spec.provider.ldap.url must be ldaps:// or use startTLS: true; plain ldap:// sends the bind password unencrypted and needs allowInsecure: true"
type LDAPProvider struct {
	// URL is ldaps://host:port, or ldap://host:port with startTLS (or with
	// allowInsecure).
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^ldaps?://`
	URL string `json:"url"`

	// StartTLS upgrades an ldap:// connection with StartTLS before binding.
	// +optional
	StartTLS bool `json:"startTLS,omitempty"`

	// AllowInsecure permits a plain ldap:// URL without startTLS, which sends the
	// bind password and every entry unencrypted. The connection's Ready condition
	// then has reason Insecure. Defaults to false.
	// +optional
	AllowInsecure bool `json:"allowInsecure,omitempty"`

	// CABundle is PEM-encoded CA certificates to trust for the server.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	CABundle string `json:"caBundle,omitempty"`

	// BindDN is the DN the operator binds as.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	BindDN string `json:"bindDN"`

	// CredentialsSecretRef names a Secret with the bind password under key "password".
	// The Secret must carry the label elevator.dev/credentials: "true".
	// +required
	CredentialsSecretRef LocalSecretReference `json:"credentialsSecretRef"`

	// UserBaseDN is where subjects are searched for.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	UserBaseDN string `json:"userBaseDN"`

	// UserFilter finds the subject's entry; {subject} is replaced by the escaped
	// subject. Defaults to (uid={subject}).
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.contains('{subject}')",message="userFilter must contain the placeholder {subject}"
	UserFilter string `json:"userFilter,omitempty"`

	// PlaceholderMember is kept in a groupOfNames when the last real member is
	// removed, because the schema requires at least one member. Defaults to the
	// empty DN "".
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	PlaceholderMember *string `json:"placeholderMember,omitempty"`

	// Timeout for connecting and for each operation, as a Go duration. Defaults to 10s.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s')",message="timeout must be a positive Go duration such as 10s"
	Timeout string `json:"timeout,omitempty"`

	// AccessLogBaseDN is the suffix of OpenLDAP's accesslog overlay database,
	// read to record what a subject wrote while elevated. Defaults to
	// cn=accesslog. Active Directory keeps no such log over LDAP: activity is
	// then Unavailable.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	AccessLogBaseDN string `json:"accessLogBaseDN,omitempty"`
}

// LDAPRole is a group; the subject's DN is added to its member attribute.
type LDAPRole struct {
	// GroupDN is the DN of the group (groupOfNames, or an Active Directory group).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	GroupDN string `json:"groupDN"`
}

// PostgresProvider is a PostgreSQL server.
// +kubebuilder:validation:XValidation:rule="!has(self.sslMode) || self.sslMode == 'verify-full' || (self.sslMode == 'verify-ca' && has(self.caBundle)) || (has(self.allowInsecure) && self.allowInsecure)",message="spec.provider.postgres.sslMode must be verify-full, or verify-ca with a caBundle; disable, require (no certificate check) and verify-ca with the system roots need allowInsecure: true"
type PostgresProvider struct {
	// Host name or address of the server.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`

	// Port of the server.
	// +optional
	// +kubebuilder:default=5432
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// Database to connect to.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Database string `json:"database"`

	// SSLMode as in libpq: disable (no TLS), require (TLS without checking the
	// certificate), verify-ca (the chain, not the host name) or verify-full (the
	// chain and the host name). Defaults to verify-full. Every mode but
	// verify-full, and verify-ca with a caBundle, needs allowInsecure.
	// +optional
	// +kubebuilder:default=verify-full
	// +kubebuilder:validation:Enum=disable;require;verify-ca;verify-full
	SSLMode string `json:"sslMode,omitempty"`

	// AllowInsecure permits sslMode disable, require, and verify-ca without a
	// caBundle: modes in which whoever is on the network path can read the
	// session or pose as the server. The connection's Ready condition then has
	// reason Insecure. Defaults to false.
	// +optional
	AllowInsecure bool `json:"allowInsecure,omitempty"`

	// CABundle is PEM-encoded CA certificates for verify-ca and verify-full.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	CABundle string `json:"caBundle,omitempty"`

	// CredentialsSecretRef names a Secret with keys "username" and "password".
	// The Secret must carry the label elevator.dev/credentials: "true".
	// +required
	CredentialsSecretRef LocalSecretReference `json:"credentialsSecretRef"`

	// TerminateSessions ends the subject's open sessions on revoke, so that a
	// session that ran SET ROLE before the revoke loses the role too. Defaults to true.
	// +optional
	// +kubebuilder:default=true
	TerminateSessions *bool `json:"terminateSessions,omitempty"`
}

// PostgresRole is a PostgreSQL role granted to the subject.
type PostgresRole struct {
	// Role is the name of the PostgreSQL role.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Role string `json:"role"`
}
