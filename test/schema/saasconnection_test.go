package schema

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

const (
	oneProviderMessage     = "spec.provider must set exactly one of kubernetes, scim, ldap, postgres"
	roleCapMessage         = "a role's maxDuration (spec.roles[].maxDuration) must not exceed the connection's spec.maxDuration"
	roleBlockMessage       = "every role in spec.roles must describe itself for the connection's provider"
	connMaxDurationMessage = "spec.maxDuration must be a positive Go duration such as 30m or 4h"
	pendingTimeoutMessage  = "spec.pendingTimeout must be a positive Go duration such as 24h"
	roleMaxDurationMessage = "maxDuration must be a positive Go duration such as 30m or 1h"
	timeoutMessage         = "timeout must be a positive Go duration such as 10s"
	kubernetesRoleMessage  = "kubernetes role must set either namespaces (a RoleBinding in each) or clusterWide: true (a ClusterRoleBinding), not both and not neither"
	scimRoleMessage        = "scim role must set exactly one of group (displayName) and groupID"
	scimURLMessage         = "spec.provider.scim.url must be an http or https URL with a host"
	userFilterMessage      = "userFilter must contain the placeholder {subject}"
	namePatternMessage     = "should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"
	scimHTTPSMessage       = "spec.provider.scim.url must start with https://; plain http sends the bearer token unencrypted and needs allowInsecureHTTP: true"
	ldapTLSMessage         = "spec.provider.ldap.url must be ldaps:// or use startTLS: true; plain ldap:// sends the bind password unencrypted and needs allowInsecure: true"
	postgresTLSMessage     = "spec.provider.postgres.sslMode must be verify-full, or verify-ca with a caBundle; disable, require (no certificate check) and verify-ca with the system roots need allowInsecure: true"
)

func atLeast(n int) string { return fmt.Sprintf("should be greater than or equal to %d", n) }
func atMost(n int) string  { return fmt.Sprintf("should be less than or equal to %d", n) }

// kubernetesRoles returns n valid roles of a kubernetes connection, named r0, r1, ...
func kubernetesRoles(names ...string) []any {
	roles := make([]any, 0, len(names))
	for _, name := range names {
		roles = append(roles, object{"name": name, "kubernetes": object{"clusterRole": "view", "clusterWide": true}})
	}
	return roles
}

func numbered(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("r%d", i)
	}
	return names
}

var _ = Describe("SaaSConnection spec", func() {
	DescribeTable("each rule rejects an object that breaks it and accepts one that keeps it",
		func(ctx SpecContext, base func() object, field, message string, reject, accept mutation) {
			_, err := create(ctx, base(), reject)
			expectInvalid(err, field, message)
			expectAccepted(ctx, base(), accept)
		},
		// The provider.
		Entry("no provider", kubernetesConnection, "spec.provider", oneProviderMessage,
			set("spec.provider", object{}), nil),
		Entry("two providers", kubernetesConnection, "spec.provider", oneProviderMessage,
			set("spec.provider.scim", object{"url": "https://scim.example.com", "credentialsSecretRef": object{"name": "t"}}), nil),
		Entry("four providers", postgresConnection, "spec.provider", oneProviderMessage,
			both(set("spec.provider.kubernetes", object{}),
				set("spec.provider.scim", scimConnection()["spec"].(object)["provider"].(object)["scim"]),
				set("spec.provider.ldap", ldapConnection()["spec"].(object)["provider"].(object)["ldap"])), nil),
		Entry("provider missing", kubernetesConnection, "spec.provider", requiredMessage,
			unset("spec.provider"), nil),

		// The connection's durations.
		Entry("maxDuration 0s", kubernetesConnection, "spec.maxDuration", connMaxDurationMessage,
			set("spec.maxDuration", "0s"), set("spec.maxDuration", "1h")),
		Entry("maxDuration 1d", kubernetesConnection, "spec.maxDuration", connMaxDurationMessage,
			set("spec.maxDuration", "1d"), set("spec.maxDuration", "24h")),
		Entry("maxDuration empty", kubernetesConnection, "spec.maxDuration", connMaxDurationMessage,
			set("spec.maxDuration", ""), set("spec.maxDuration", "90m")),
		Entry("maxDuration over 32 bytes", kubernetesConnection, "spec.maxDuration", tooLong(32),
			set("spec.maxDuration", "10h"+strings.Repeat("1h", 15)), set("spec.maxDuration", strings.Repeat("1h", 16))),
		Entry("maxDuration missing", kubernetesConnection, "spec.maxDuration", requiredMessage,
			unset("spec.maxDuration"), nil),
		Entry("pendingTimeout 0s", kubernetesConnection, "spec.pendingTimeout", pendingTimeoutMessage,
			set("spec.pendingTimeout", "0s"), set("spec.pendingTimeout", "72h")),
		Entry("pendingTimeout never", kubernetesConnection, "spec.pendingTimeout", pendingTimeoutMessage,
			set("spec.pendingTimeout", "never"), set("spec.pendingTimeout", "30m")),
		Entry("pendingTimeout over 32 bytes", kubernetesConnection, "spec.pendingTimeout", tooLong(32),
			set("spec.pendingTimeout", "10h"+strings.Repeat("1h", 15)), set("spec.pendingTimeout", strings.Repeat("1h", 16))),

		// The list of roles.
		Entry("duplicate role names", kubernetesConnection, "spec.roles[2]", `Duplicate value: {"name":"admin"}`,
			set("spec.roles", kubernetesRoles("admin", "viewer", "admin")), set("spec.roles", kubernetesRoles("admin", "viewer"))),
		Entry("no roles", kubernetesConnection, "spec.roles", "should have at least 1 items",
			set("spec.roles", []any{}), set("spec.roles", kubernetesRoles("only"))),
		Entry("more than 64 roles", kubernetesConnection, "spec.roles", "must have at most 64 items",
			set("spec.roles", kubernetesRoles(numbered(65)...)), set("spec.roles", kubernetesRoles(numbered(64)...))),
		Entry("roles missing", kubernetesConnection, "spec.roles", requiredMessage,
			unset("spec.roles"), nil),

		// A role's name.
		Entry("role name with capitals", kubernetesConnection, "spec.roles[0].name", namePatternMessage,
			set("spec.roles[0].name", "Admin"), set("spec.roles[0].name", "namespace-admin")),
		Entry("role name with an underscore", kubernetesConnection, "spec.roles[0].name", namePatternMessage,
			set("spec.roles[0].name", "db_admin"), set("spec.roles[0].name", "db-admin")),
		Entry("role name starting with a dash", kubernetesConnection, "spec.roles[0].name", namePatternMessage,
			set("spec.roles[0].name", "-admin"), set("spec.roles[0].name", "0admin9")),
		Entry("role name empty", kubernetesConnection, "spec.roles[0].name", minLengthMessage,
			set("spec.roles[0].name", ""), set("spec.roles[0].name", "a")),
		Entry("role name over 63 bytes", kubernetesConnection, "spec.roles[0].name", tooLong(63),
			set("spec.roles[0].name", strings.Repeat("a", 64)), set("spec.roles[0].name", strings.Repeat("a", 63))),
		Entry("role name missing", kubernetesConnection, "spec.roles[0].name", requiredMessage,
			unset("spec.roles[0].name"), nil),

		// A role's maxDuration.
		Entry("role maxDuration above the connection's", kubernetesConnection, "spec.roles", roleCapMessage,
			set("spec.roles[0].maxDuration", "5h"), set("spec.roles[0].maxDuration", "4h")),
		Entry("role maxDuration one second above the connection's", kubernetesConnection, "spec.roles", roleCapMessage,
			set("spec.roles[0].maxDuration", "4h0m1s"), set("spec.roles[0].maxDuration", "240m")),
		Entry("second role's maxDuration above the connection's", kubernetesConnection, "spec.roles", roleCapMessage,
			set("spec.roles", []any{
				object{"name": "a", "maxDuration": "1h", "kubernetes": object{"clusterRole": "view", "clusterWide": true}},
				object{"name": "b", "maxDuration": "8h", "kubernetes": object{"clusterRole": "view", "clusterWide": true}},
			}),
			unset("spec.roles[0].maxDuration")),
		Entry("role maxDuration 1d", kubernetesConnection, "spec.roles[0].maxDuration", roleMaxDurationMessage,
			set("spec.roles[0].maxDuration", "1d"), set("spec.roles[0].maxDuration", "45m")),
		Entry("role maxDuration -1h", kubernetesConnection, "spec.roles[0].maxDuration", roleMaxDurationMessage,
			set("spec.roles[0].maxDuration", "-1h"), set("spec.roles[0].maxDuration", "1h")),
		Entry("role maxDuration over 32 bytes", kubernetesConnection, "spec.roles[0].maxDuration", tooLong(32),
			set("spec.roles[0].maxDuration", "10s"+strings.Repeat("1s", 15)), set("spec.roles[0].maxDuration", strings.Repeat("1s", 16))),

		// A role's requiredApprovals.
		Entry("requiredApprovals -1", kubernetesConnection, "spec.roles[0].requiredApprovals", atLeast(0),
			set("spec.roles[0].requiredApprovals", int64(-1)), set("spec.roles[0].requiredApprovals", int64(0))),
		Entry("requiredApprovals 11", kubernetesConnection, "spec.roles[0].requiredApprovals", atMost(10),
			set("spec.roles[0].requiredApprovals", int64(11)), set("spec.roles[0].requiredApprovals", int64(10))),

		// A role's provider block.
		Entry("kubernetes connection, role with a scim block", kubernetesConnection, "spec.roles", roleBlockMessage,
			both(unset("spec.roles[0].kubernetes"), set("spec.roles[0].scim", object{"group": "admins"})), nil),
		Entry("kubernetes connection, role without a block", kubernetesConnection, "spec.roles", roleBlockMessage,
			unset("spec.roles[0].kubernetes"), nil),
		Entry("kubernetes connection, role with two blocks", kubernetesConnection, "spec.roles", roleBlockMessage,
			set("spec.roles[0].postgres", object{"role": "rw"}), nil),
		Entry("scim connection, role with a kubernetes block", scimConnection, "spec.roles", roleBlockMessage,
			both(unset("spec.roles[0].scim"), set("spec.roles[0].kubernetes", object{"clusterRole": "admin", "clusterWide": true})), nil),
		Entry("ldap connection, role with a postgres block", ldapConnection, "spec.roles", roleBlockMessage,
			both(unset("spec.roles[0].ldap"), set("spec.roles[0].postgres", object{"role": "rw"})), nil),
		Entry("postgres connection, second role with an ldap block", postgresConnection, "spec.roles", roleBlockMessage,
			set("spec.roles", []any{
				object{"name": "rw", "postgres": object{"role": "rw"}},
				object{"name": "dn", "ldap": object{"groupDN": "cn=x"}},
			}),
			set("spec.roles", []any{
				object{"name": "rw", "postgres": object{"role": "rw"}},
				object{"name": "ro", "postgres": object{"role": "ro"}},
			})),

		// Kubernetes roles.
		Entry("kubernetes role with namespaces and clusterWide", kubernetesConnection, "spec.roles[0].kubernetes", kubernetesRoleMessage,
			set("spec.roles[0].kubernetes.clusterWide", true), set("spec.roles[0].kubernetes.clusterWide", false)),
		Entry("kubernetes role with neither namespaces nor clusterWide", kubernetesConnection, "spec.roles[0].kubernetes", kubernetesRoleMessage,
			unset("spec.roles[0].kubernetes.namespaces"),
			both(unset("spec.roles[0].kubernetes.namespaces"), set("spec.roles[0].kubernetes.clusterWide", true))),
		Entry("kubernetes role with no namespaces and clusterWide false", kubernetesConnection, "spec.roles[0].kubernetes", kubernetesRoleMessage,
			both(set("spec.roles[0].kubernetes.namespaces", []any{}), set("spec.roles[0].kubernetes.clusterWide", false)),
			set("spec.roles[0].kubernetes.namespaces", []any{"payments", "billing"})),
		Entry("kubernetes role namespace not a DNS label", kubernetesConnection, "spec.roles[0].kubernetes.namespaces[0]", namePatternMessage,
			set("spec.roles[0].kubernetes.namespaces", []any{"Payments"}), set("spec.roles[0].kubernetes.namespaces", []any{"payments-2"})),
		Entry("kubernetes role namespace over 63 bytes", kubernetesConnection, "spec.roles[0].kubernetes.namespaces[0]", tooLong(63),
			set("spec.roles[0].kubernetes.namespaces", []any{strings.Repeat("n", 64)}),
			set("spec.roles[0].kubernetes.namespaces", []any{strings.Repeat("n", 63)})),
		Entry("kubernetes role namespace listed twice", kubernetesConnection, "spec.roles[0].kubernetes.namespaces[1]", `Duplicate value: "payments"`,
			set("spec.roles[0].kubernetes.namespaces", []any{"payments", "payments"}),
			set("spec.roles[0].kubernetes.namespaces", []any{"payments", "billing"})),
		Entry("kubernetes role with more than 32 namespaces", kubernetesConnection, "spec.roles[0].kubernetes.namespaces", "must have at most 32 items",
			set("spec.roles[0].kubernetes.namespaces", stringList(numbered(33))),
			set("spec.roles[0].kubernetes.namespaces", stringList(numbered(32)))),
		Entry("kubernetes role clusterRole empty", kubernetesConnection, "spec.roles[0].kubernetes.clusterRole", minLengthMessage,
			set("spec.roles[0].kubernetes.clusterRole", ""), set("spec.roles[0].kubernetes.clusterRole", "edit")),
		Entry("kubernetes role clusterRole over 253 bytes", kubernetesConnection, "spec.roles[0].kubernetes.clusterRole", tooLong(253),
			set("spec.roles[0].kubernetes.clusterRole", strings.Repeat("c", 254)),
			set("spec.roles[0].kubernetes.clusterRole", strings.Repeat("c", 253))),
		Entry("kubernetes role clusterRole missing", kubernetesConnection, "spec.roles[0].kubernetes.clusterRole", requiredMessage,
			unset("spec.roles[0].kubernetes.clusterRole"), nil),

		// SCIM.
		Entry("scim url with an ftp scheme", scimConnection, "spec.provider.scim.url", scimURLMessage,
			set("spec.provider.scim.url", "ftp://scim.example.com/v2"), set("spec.provider.scim.url", "https://127.0.0.1:8443/scim/v2")),
		Entry("scim url not a URL", scimConnection, "spec.provider.scim.url", scimURLMessage,
			set("spec.provider.scim.url", "scim.example.com"), set("spec.provider.scim.url", "https://scim.example.com")),
		Entry("scim url without a host", scimConnection, "spec.provider.scim.url", scimURLMessage,
			set("spec.provider.scim.url", "https://"), set("spec.provider.scim.url", "https://[::1]:8443/scim/v2")),
		Entry("scim url with one slash", scimConnection, "spec.provider.scim.url", scimURLMessage,
			set("spec.provider.scim.url", "http:/scim.example.com"), set("spec.provider.scim.url", "https://scim.example.com")),
		Entry("scim url empty", scimConnection, "spec.provider.scim.url", scimURLMessage,
			set("spec.provider.scim.url", ""), nil),
		Entry("scim url over 2048 bytes", scimConnection, "spec.provider.scim.url", tooLong(2048),
			set("spec.provider.scim.url", "https://scim.example.com/"+strings.Repeat("p", 2024)),
			set("spec.provider.scim.url", "https://scim.example.com/"+strings.Repeat("p", 2023))),
		Entry("scim url missing", scimConnection, "spec.provider.scim.url", requiredMessage,
			unset("spec.provider.scim.url"), nil),
		Entry("scim credentialsSecretRef missing", scimConnection, "spec.provider.scim.credentialsSecretRef", requiredMessage,
			unset("spec.provider.scim.credentialsSecretRef"), nil),
		Entry("scim credentialsSecretRef name empty", scimConnection, "spec.provider.scim.credentialsSecretRef.name", minLengthMessage,
			set("spec.provider.scim.credentialsSecretRef.name", ""), set("spec.provider.scim.credentialsSecretRef.name", "s")),
		Entry("scim credentialsSecretRef name over 253 bytes", scimConnection, "spec.provider.scim.credentialsSecretRef.name", tooLong(253),
			set("spec.provider.scim.credentialsSecretRef.name", strings.Repeat("s", 254)),
			set("spec.provider.scim.credentialsSecretRef.name", strings.Repeat("s", 253))),
		Entry("scim credentialsSecretRef name missing", scimConnection, "spec.provider.scim.credentialsSecretRef.name", requiredMessage,
			unset("spec.provider.scim.credentialsSecretRef.name"), nil),
		Entry("scim timeout 0s", scimConnection, "spec.provider.scim.timeout", timeoutMessage,
			set("spec.provider.scim.timeout", "0s"), set("spec.provider.scim.timeout", "10s")),
		Entry("scim timeout over 32 bytes", scimConnection, "spec.provider.scim.timeout", tooLong(32),
			set("spec.provider.scim.timeout", "10s"+strings.Repeat("1s", 15)), set("spec.provider.scim.timeout", strings.Repeat("1s", 16))),
		Entry("scim caBundle over 64 KiB", scimConnection, "spec.provider.scim.caBundle", tooLong(65536),
			set("spec.provider.scim.caBundle", strings.Repeat("A", 65537)), set("spec.provider.scim.caBundle", strings.Repeat("A", 65536))),
		Entry("scim role with group and groupID", scimConnection, "spec.roles[0].scim", scimRoleMessage,
			set("spec.roles[0].scim.groupID", "7f3c"), both(unset("spec.roles[0].scim.group"), set("spec.roles[0].scim.groupID", "7f3c"))),
		Entry("scim role with neither group nor groupID", scimConnection, "spec.roles[0].scim", scimRoleMessage,
			unset("spec.roles[0].scim.group"), nil),
		Entry("scim role group empty", scimConnection, "spec.roles[0].scim.group", minLengthMessage,
			set("spec.roles[0].scim.group", ""), set("spec.roles[0].scim.group", "g")),
		Entry("scim role group over 256 bytes", scimConnection, "spec.roles[0].scim.group", tooLong(256),
			set("spec.roles[0].scim.group", strings.Repeat("g", 257)), set("spec.roles[0].scim.group", strings.Repeat("g", 256))),
		Entry("scim role groupID empty", scimConnection, "spec.roles[0].scim.groupID", minLengthMessage,
			both(unset("spec.roles[0].scim.group"), set("spec.roles[0].scim.groupID", "")),
			both(unset("spec.roles[0].scim.group"), set("spec.roles[0].scim.groupID", "1"))),
		Entry("scim role groupID over 256 bytes", scimConnection, "spec.roles[0].scim.groupID", tooLong(256),
			both(unset("spec.roles[0].scim.group"), set("spec.roles[0].scim.groupID", strings.Repeat("i", 257))),
			both(unset("spec.roles[0].scim.group"), set("spec.roles[0].scim.groupID", strings.Repeat("i", 256)))),

		// SCIM transport (attack 6: a plain-http URL would send the token in the clear).
		Entry("scim url plain http", scimConnection, "spec.provider.scim", scimHTTPSMessage,
			set("spec.provider.scim.url", "http://127.0.0.1:8080/scim/v2"),
			both(set("spec.provider.scim.url", "http://127.0.0.1:8080/scim/v2"), set("spec.provider.scim.allowInsecureHTTP", true))),
		Entry("scim url plain http, allowInsecureHTTP false", scimConnection, "spec.provider.scim", scimHTTPSMessage,
			both(set("spec.provider.scim.url", "http://scim.example.com"), set("spec.provider.scim.allowInsecureHTTP", false)),
			set("spec.provider.scim.url", "https://scim.example.com")),

		// LDAP.
		Entry("ldap url plain ldap without startTLS", ldapConnection, "spec.provider.ldap", ldapTLSMessage,
			set("spec.provider.ldap.url", "ldap://ldap.example.com:389"),
			both(set("spec.provider.ldap.url", "ldap://ldap.example.com:389"), set("spec.provider.ldap.startTLS", true))),
		Entry("ldap url plain ldap, allowInsecure", ldapConnection, "spec.provider.ldap", ldapTLSMessage,
			both(set("spec.provider.ldap.url", "ldap://127.0.0.1:389"), set("spec.provider.ldap.startTLS", false)),
			both(set("spec.provider.ldap.url", "ldap://127.0.0.1:389"), set("spec.provider.ldap.allowInsecure", true))),
		Entry("ldap url with an http scheme", ldapConnection, "spec.provider.ldap.url", "should match '^ldaps?://'",
			set("spec.provider.ldap.url", "http://ldap.example.com"), set("spec.provider.ldap.url", "ldaps://127.0.0.1:636")),
		Entry("ldap url without a scheme", ldapConnection, "spec.provider.ldap.url", "should match '^ldaps?://'",
			set("spec.provider.ldap.url", "ldap.example.com:636"), set("spec.provider.ldap.url", "ldaps://ldap.example.com")),
		Entry("ldap url over 2048 bytes", ldapConnection, "spec.provider.ldap.url", tooLong(2048),
			set("spec.provider.ldap.url", "ldaps://"+strings.Repeat("h", 2041)), set("spec.provider.ldap.url", "ldaps://"+strings.Repeat("h", 2040))),
		Entry("ldap url missing", ldapConnection, "spec.provider.ldap.url", requiredMessage,
			unset("spec.provider.ldap.url"), nil),
		Entry("ldap userFilter without {subject}", ldapConnection, "spec.provider.ldap.userFilter", userFilterMessage,
			set("spec.provider.ldap.userFilter", "(uid=alice)"), set("spec.provider.ldap.userFilter", "(&(objectClass=user)(sAMAccountName={subject}))")),
		Entry("ldap userFilter with a misspelt placeholder", ldapConnection, "spec.provider.ldap.userFilter", userFilterMessage,
			set("spec.provider.ldap.userFilter", "(uid={user})"), unset("spec.provider.ldap.userFilter")),
		Entry("ldap userFilter over 1024 bytes", ldapConnection, "spec.provider.ldap.userFilter", tooLong(1024),
			set("spec.provider.ldap.userFilter", "(uid={subject})"+strings.Repeat(" ", 1010)),
			set("spec.provider.ldap.userFilter", "(uid={subject})"+strings.Repeat(" ", 1009))),
		Entry("ldap bindDN empty", ldapConnection, "spec.provider.ldap.bindDN", minLengthMessage,
			set("spec.provider.ldap.bindDN", ""), set("spec.provider.ldap.bindDN", "cn=x")),
		Entry("ldap bindDN over 1024 bytes", ldapConnection, "spec.provider.ldap.bindDN", tooLong(1024),
			set("spec.provider.ldap.bindDN", "cn="+strings.Repeat("b", 1022)), set("spec.provider.ldap.bindDN", "cn="+strings.Repeat("b", 1021))),
		Entry("ldap bindDN missing", ldapConnection, "spec.provider.ldap.bindDN", requiredMessage,
			unset("spec.provider.ldap.bindDN"), nil),
		Entry("ldap userBaseDN empty", ldapConnection, "spec.provider.ldap.userBaseDN", minLengthMessage,
			set("spec.provider.ldap.userBaseDN", ""), set("spec.provider.ldap.userBaseDN", "dc=x")),
		Entry("ldap userBaseDN over 1024 bytes", ldapConnection, "spec.provider.ldap.userBaseDN", tooLong(1024),
			set("spec.provider.ldap.userBaseDN", "dc="+strings.Repeat("u", 1022)), set("spec.provider.ldap.userBaseDN", "dc="+strings.Repeat("u", 1021))),
		Entry("ldap userBaseDN missing", ldapConnection, "spec.provider.ldap.userBaseDN", requiredMessage,
			unset("spec.provider.ldap.userBaseDN"), nil),
		Entry("ldap credentialsSecretRef missing", ldapConnection, "spec.provider.ldap.credentialsSecretRef", requiredMessage,
			unset("spec.provider.ldap.credentialsSecretRef"), nil),
		Entry("ldap credentialsSecretRef name empty", ldapConnection, "spec.provider.ldap.credentialsSecretRef.name", minLengthMessage,
			set("spec.provider.ldap.credentialsSecretRef.name", ""), set("spec.provider.ldap.credentialsSecretRef.name", "b")),
		Entry("ldap timeout soon", ldapConnection, "spec.provider.ldap.timeout", timeoutMessage,
			set("spec.provider.ldap.timeout", "soon"), set("spec.provider.ldap.timeout", "2.5s")),
		Entry("ldap timeout over 32 bytes", ldapConnection, "spec.provider.ldap.timeout", tooLong(32),
			set("spec.provider.ldap.timeout", "10s"+strings.Repeat("1s", 15)), set("spec.provider.ldap.timeout", strings.Repeat("1s", 16))),
		Entry("ldap caBundle over 64 KiB", ldapConnection, "spec.provider.ldap.caBundle", tooLong(65536),
			set("spec.provider.ldap.caBundle", strings.Repeat("A", 65537)), set("spec.provider.ldap.caBundle", strings.Repeat("A", 65536))),
		Entry("ldap placeholderMember over 1024 bytes", ldapConnection, "spec.provider.ldap.placeholderMember", tooLong(1024),
			set("spec.provider.ldap.placeholderMember", "cn="+strings.Repeat("p", 1022)), set("spec.provider.ldap.placeholderMember", "")),
		Entry("ldap role groupDN empty", ldapConnection, "spec.roles[0].ldap.groupDN", minLengthMessage,
			set("spec.roles[0].ldap.groupDN", ""), set("spec.roles[0].ldap.groupDN", "cn=g")),
		Entry("ldap role groupDN over 1024 bytes", ldapConnection, "spec.roles[0].ldap.groupDN", tooLong(1024),
			set("spec.roles[0].ldap.groupDN", "cn="+strings.Repeat("g", 1022)), set("spec.roles[0].ldap.groupDN", "cn="+strings.Repeat("g", 1021))),
		Entry("ldap role groupDN missing", ldapConnection, "spec.roles[0].ldap.groupDN", requiredMessage,
			unset("spec.roles[0].ldap.groupDN"), nil),

		// PostgreSQL transport (attack 6: require does not check the server's certificate).
		Entry("postgres sslMode require", postgresConnection, "spec.provider.postgres", postgresTLSMessage,
			set("spec.provider.postgres.sslMode", "require"),
			both(set("spec.provider.postgres.sslMode", "require"), set("spec.provider.postgres.allowInsecure", true))),
		Entry("postgres sslMode disable", postgresConnection, "spec.provider.postgres", postgresTLSMessage,
			set("spec.provider.postgres.sslMode", "disable"),
			set("spec.provider.postgres.sslMode", "verify-full")),
		Entry("postgres sslMode verify-ca with the system roots", postgresConnection, "spec.provider.postgres", postgresTLSMessage,
			set("spec.provider.postgres.sslMode", "verify-ca"),
			both(set("spec.provider.postgres.sslMode", "verify-ca"), set("spec.provider.postgres.caBundle", "-----BEGIN CERTIFICATE-----"))),

		// PostgreSQL.
		Entry("postgres sslMode prefer", postgresConnection, "spec.provider.postgres.sslMode",
			`Unsupported value: "prefer": supported values: "disable", "require", "verify-ca", "verify-full"`,
			set("spec.provider.postgres.sslMode", "prefer"), set("spec.provider.postgres.sslMode", "verify-full")),
		Entry("postgres sslMode in capitals", postgresConnection, "spec.provider.postgres.sslMode", `Unsupported value: "REQUIRE"`,
			set("spec.provider.postgres.sslMode", "REQUIRE"), both(set("spec.provider.postgres.sslMode", "disable"), set("spec.provider.postgres.allowInsecure", true))),
		Entry("postgres port 0", postgresConnection, "spec.provider.postgres.port", atLeast(1),
			set("spec.provider.postgres.port", int64(0)), set("spec.provider.postgres.port", int64(1))),
		Entry("postgres port 65536", postgresConnection, "spec.provider.postgres.port", atMost(65535),
			set("spec.provider.postgres.port", int64(65536)), set("spec.provider.postgres.port", int64(65535))),
		Entry("postgres host empty", postgresConnection, "spec.provider.postgres.host", minLengthMessage,
			set("spec.provider.postgres.host", ""), set("spec.provider.postgres.host", "127.0.0.1")),
		Entry("postgres host over 253 bytes", postgresConnection, "spec.provider.postgres.host", tooLong(253),
			set("spec.provider.postgres.host", strings.Repeat("h", 254)), set("spec.provider.postgres.host", strings.Repeat("h", 253))),
		Entry("postgres host missing", postgresConnection, "spec.provider.postgres.host", requiredMessage,
			unset("spec.provider.postgres.host"), nil),
		Entry("postgres database empty", postgresConnection, "spec.provider.postgres.database", minLengthMessage,
			set("spec.provider.postgres.database", ""), set("spec.provider.postgres.database", "d")),
		Entry("postgres database over 63 bytes", postgresConnection, "spec.provider.postgres.database", tooLong(63),
			set("spec.provider.postgres.database", strings.Repeat("d", 64)), set("spec.provider.postgres.database", strings.Repeat("d", 63))),
		Entry("postgres database missing", postgresConnection, "spec.provider.postgres.database", requiredMessage,
			unset("spec.provider.postgres.database"), nil),
		Entry("postgres credentialsSecretRef missing", postgresConnection, "spec.provider.postgres.credentialsSecretRef", requiredMessage,
			unset("spec.provider.postgres.credentialsSecretRef"), nil),
		Entry("postgres caBundle over 64 KiB", postgresConnection, "spec.provider.postgres.caBundle", tooLong(65536),
			set("spec.provider.postgres.caBundle", strings.Repeat("A", 65537)), set("spec.provider.postgres.caBundle", strings.Repeat("A", 65536))),
		Entry("postgres role empty", postgresConnection, "spec.roles[0].postgres.role", minLengthMessage,
			set("spec.roles[0].postgres.role", ""), set("spec.roles[0].postgres.role", "r")),
		Entry("postgres role over 63 bytes", postgresConnection, "spec.roles[0].postgres.role", tooLong(63),
			set("spec.roles[0].postgres.role", strings.Repeat("r", 64)), set("spec.roles[0].postgres.role", strings.Repeat("r", 63))),
		Entry("postgres role missing", postgresConnection, "spec.roles[0].postgres.role", requiredMessage,
			unset("spec.roles[0].postgres.role"), nil),
	)

	DescribeTable("a malformed duration is reported on its own field only, not as an evaluation error of the cap rule",
		func(ctx SpecContext, field, message string, m mutation) {
			_, err := create(ctx, kubernetesConnection(), m)
			expectInvalid(err, field, message)
			Expect(err.Error()).NotTo(ContainSubstring("type conversion error"))
			Expect(err.Error()).NotTo(ContainSubstring(roleCapMessage))
		},
		Entry("connection maxDuration 1d", "spec.maxDuration", connMaxDurationMessage, set("spec.maxDuration", "1d")),
		Entry("connection maxDuration empty", "spec.maxDuration", connMaxDurationMessage, set("spec.maxDuration", "")),
		Entry("role maxDuration 1d", "spec.roles[0].maxDuration", roleMaxDurationMessage, set("spec.roles[0].maxDuration", "1d")),
	)

	Describe("defaults", func() {
		It("sets pendingTimeout to 24h and a role's requiredApprovals to 1", func(ctx SpecContext) {
			stored := expectAccepted(ctx, kubernetesConnection(), nil)
			spec := stored.Object["spec"].(object)
			Expect(spec).To(HaveKeyWithValue("pendingTimeout", accessv1alpha1.DefaultPendingTimeout))
			Expect(accessv1alpha1.DefaultPendingTimeout).To(Equal("24h"))
			Expect(spec["roles"].([]any)[0]).To(HaveKeyWithValue("requiredApprovals", int64(1)))
		})

		It("keeps an explicit requiredApprovals of 0 and an explicit pendingTimeout", func(ctx SpecContext) {
			stored := expectAccepted(ctx, kubernetesConnection(), both(
				set("spec.roles[0].requiredApprovals", int64(0)), set("spec.pendingTimeout", "15m")))
			spec := stored.Object["spec"].(object)
			Expect(spec).To(HaveKeyWithValue("pendingTimeout", "15m"))
			Expect(spec["roles"].([]any)[0]).To(HaveKeyWithValue("requiredApprovals", int64(0)))
		})

		It("sets postgres port 5432, sslMode verify-full and terminateSessions true", func(ctx SpecContext) {
			stored := expectAccepted(ctx, postgresConnection(), nil)
			pg := stored.Object["spec"].(object)["provider"].(object)["postgres"]
			Expect(pg).To(HaveKeyWithValue("port", int64(5432)))
			Expect(pg).To(HaveKeyWithValue("sslMode", "verify-full"))
			Expect(pg).NotTo(HaveKey("allowInsecure"))
			Expect(pg).To(HaveKeyWithValue("terminateSessions", true))
		})

		It("keeps an explicit terminateSessions false", func(ctx SpecContext) {
			stored := expectAccepted(ctx, postgresConnection(), set("spec.provider.postgres.terminateSessions", false))
			Expect(stored.Object["spec"].(object)["provider"].(object)["postgres"]).To(HaveKeyWithValue("terminateSessions", false))
		})
	})
})

func stringList(items []string) []any {
	list := make([]any, len(items))
	for i, s := range items {
		list[i] = s
	}
	return list
}
