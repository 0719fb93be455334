package schema

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	durationMessage      = "spec.duration must be a positive Go duration such as 30m or 1h30m"
	subjectMessage       = "spec.subject must not be blank or have leading or trailing spaces"
	justificationMessage = "spec.justification must not be blank"
	immutableMessage     = "spec is immutable: create a new ElevationRequest to ask for different access"
	minLengthMessage     = "should be at least 1 chars long"
	requiredMessage      = "Required value"
	oneFormMessage       = "spec: give either connection and role, or targets, not both"
	uniqueTargetsMessage = "spec.targets must not name the same connection and role twice"
)

// targets is a spec.targets list of n distinct targets.
func targets(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = object{"connection": fmt.Sprintf("conn-%d", i), "role": "admin"}
	}
	return out
}

// asTargets turns the spec into the targets form: connection and role
// removed, and n targets.
func asTargets(n int) mutation {
	return func(obj map[string]any) {
		unset("spec.connection")(obj)
		unset("spec.role")(obj)
		set("spec.targets", targets(n))(obj)
	}
}

// tooLong is the apiserver's message for a string over maxLength n.
func tooLong(n int) string { return fmt.Sprintf("Too long: may not be more than %d bytes", n) }

var _ = Describe("ElevationRequest spec", func() {
	DescribeTable("each rule rejects an object that breaks it and accepts one that keeps it",
		func(ctx SpecContext, field, message string, reject, accept mutation) {
			_, err := create(ctx, elevationRequest(), reject)
			expectInvalid(err, field, message)
			expectAccepted(ctx, elevationRequest(), accept)
		},
		Entry("duration 0s is not positive", "spec.duration", durationMessage,
			set("spec.duration", "0s"), set("spec.duration", "1ns")),
		Entry("duration -5m is negative", "spec.duration", durationMessage,
			set("spec.duration", "-5m"), set("spec.duration", "5m")),
		Entry("duration soon is not a duration", "spec.duration", durationMessage,
			set("spec.duration", "soon"), set("spec.duration", "1h30m")),
		Entry("duration 1d has a unit Go does not know", "spec.duration", durationMessage,
			set("spec.duration", "1d"), set("spec.duration", "24h")),
		Entry("duration empty", "spec.duration", durationMessage,
			set("spec.duration", ""), set("spec.duration", "1.5h")),
		Entry("duration without a unit", "spec.duration", durationMessage,
			set("spec.duration", "30"), set("spec.duration", "30s")),
		Entry("duration with inner spaces", "spec.duration", durationMessage,
			set("spec.duration", "1h 30m"), set("spec.duration", "500ms")),
		Entry("duration beyond what a Go duration holds", "spec.duration", durationMessage,
			set("spec.duration", "9999999999h"), set("spec.duration", "2540400h")),
		Entry("duration over 32 bytes", "spec.duration", tooLong(32),
			set("spec.duration", "10s"+strings.Repeat("1s", 15)), set("spec.duration", strings.Repeat("1s", 16))),
		Entry("duration missing", "spec.duration", requiredMessage,
			unset("spec.duration"), nil),

		Entry("subject empty", "spec.subject", minLengthMessage,
			set("spec.subject", ""), set("spec.subject", "a")),
		Entry("subject blank", "spec.subject", subjectMessage,
			set("spec.subject", "   "), set("spec.subject", "alice smith")),
		Entry("subject with a leading space", "spec.subject", subjectMessage,
			set("spec.subject", " alice"), set("spec.subject", "alice")),
		Entry("subject with a trailing newline", "spec.subject", subjectMessage,
			set("spec.subject", "alice\n"), set("spec.subject", "CN=alice,OU=people")),
		Entry("subject over 256 bytes", "spec.subject", tooLong(256),
			set("spec.subject", strings.Repeat("a", 257)), set("spec.subject", strings.Repeat("a", 256))),
		Entry("subject missing", "spec.subject", requiredMessage,
			unset("spec.subject"), nil),

		Entry("connection empty", "spec.connection", minLengthMessage,
			set("spec.connection", ""), set("spec.connection", "c")),
		Entry("connection over 253 bytes", "spec.connection", tooLong(253),
			set("spec.connection", strings.Repeat("c", 254)), set("spec.connection", strings.Repeat("c", 253))),
		Entry("connection missing", "spec", oneFormMessage,
			unset("spec.connection"), nil),

		Entry("role empty", "spec.role", minLengthMessage,
			set("spec.role", ""), set("spec.role", "r")),
		Entry("role over 63 bytes", "spec.role", tooLong(63),
			set("spec.role", strings.Repeat("r", 64)), set("spec.role", strings.Repeat("r", 63))),
		Entry("role missing", "spec", oneFormMessage,
			unset("spec.role"), nil),

		Entry("targets beside connection and role", "spec", oneFormMessage,
			set("spec.targets", targets(2)), asTargets(2)),
		Entry("targets beside a role alone", "spec", oneFormMessage,
			func(obj map[string]any) { asTargets(2)(obj); set("spec.role", "admin")(obj) }, asTargets(1)),
		Entry("more than 16 targets", "spec.targets", "Too many: 17: must have at most 16 items",
			asTargets(17), asTargets(16)),
		Entry("no targets", "spec.targets", "should have at least 1 items",
			asTargets(0), asTargets(1)),
		Entry("the same target twice", "spec.targets", uniqueTargetsMessage,
			func(obj map[string]any) {
				asTargets(0)(obj)
				set("spec.targets", []any{object{"connection": "pg", "role": "rw"}, object{"connection": "pg", "role": "rw"}})(obj)
			},
			func(obj map[string]any) {
				asTargets(0)(obj)
				set("spec.targets", []any{object{"connection": "pg", "role": "rw"}, object{"connection": "pg", "role": "ro"}})(obj)
			}),
		Entry("a target's role over 63 bytes", "spec.targets[0].role", tooLong(63),
			func(obj map[string]any) {
				asTargets(0)(obj)
				set("spec.targets", []any{object{"connection": "pg", "role": strings.Repeat("r", 64)}})(obj)
			}, asTargets(3)),

		Entry("justification empty", "spec.justification", minLengthMessage,
			set("spec.justification", ""), set("spec.justification", "x")),
		Entry("justification blank", "spec.justification", justificationMessage,
			set("spec.justification", "   "), set("spec.justification", "  padded reason  ")),
		Entry("justification only tabs and newlines", "spec.justification", justificationMessage,
			set("spec.justification", "\t\n"), set("spec.justification", "line one\nline two")),
		Entry("justification over 1024 bytes", "spec.justification", tooLong(1024),
			set("spec.justification", strings.Repeat("j", 1025)), set("spec.justification", strings.Repeat("j", 1024))),
		Entry("justification missing", "spec.justification", requiredMessage,
			unset("spec.justification"), nil),

		Entry("ticket over 128 bytes", "spec.ticket", tooLong(128),
			set("spec.ticket", strings.Repeat("t", 129)), set("spec.ticket", strings.Repeat("t", 128))),
		Entry("ticket is optional", "spec.ticket", tooLong(128),
			set("spec.ticket", strings.Repeat("t", 200)), unset("spec.ticket")),

		Entry("spec missing", "spec", requiredMessage,
			unset("spec"), nil),
	)

	Describe("immutability", func() {
		var stored *unstructured.Unstructured
		BeforeEach(func(ctx SpecContext) {
			stored = expectAccepted(ctx, elevationRequest(), nil)
		})

		DescribeTable("an update of the spec is rejected",
			func(ctx SpecContext, change mutation) {
				change(stored.Object)
				expectInvalid(k8sClient.Update(ctx, stored), "spec", immutableMessage)
			},
			Entry("a longer duration", set("spec.duration", "4h")),
			Entry("another role", set("spec.role", "cluster-admin")),
			Entry("another subject", set("spec.subject", "mallory@example.com")),
			Entry("a new justification", set("spec.justification", "something else")),
			Entry("the ticket removed", unset("spec.ticket")),
		)

		It("rejects a merge patch of the spec", func(ctx SpecContext) {
			patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"duration":"8h"}}`))
			expectInvalid(k8sClient.Patch(ctx, stored, patch), "spec", immutableMessage)
		})

		It("accepts an update that leaves the spec as it was", func(ctx SpecContext) {
			set("spec.duration", "30m")(stored.Object)
			Expect(k8sClient.Update(ctx, stored)).To(Succeed())
		})

		It("accepts a metadata update: annotations and labels", func(ctx SpecContext) {
			stored.SetAnnotations(map[string]string{"elevator.dev/approve": "looks fine"})
			stored.SetLabels(map[string]string{"team": "payments"})
			Expect(k8sClient.Update(ctx, stored)).To(Succeed())

			got := fetch(ctx, stored)
			Expect(got.GetAnnotations()).To(HaveKeyWithValue("elevator.dev/approve", "looks fine"))
			Expect(got.GetLabels()).To(HaveKeyWithValue("team", "payments"))
			Expect(got.Object["spec"]).To(Equal(stored.Object["spec"]))
		})

		It("accepts a status update through the status subresource", func(ctx SpecContext) {
			expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
			set("status", object{"phase": "Active", "expiresAt": expires, "requestedBy": "alice"})(stored.Object)
			Expect(k8sClient.Status().Update(ctx, stored)).To(Succeed())

			got := fetch(ctx, stored)
			Expect(got.Object["status"]).To(HaveKeyWithValue("phase", "Active"))
			Expect(got.Object["status"]).To(HaveKeyWithValue("expiresAt", expires))
		})

		It("ignores status sent to the main resource", func(ctx SpecContext) {
			set("status", object{"phase": "Active"})(stored.Object)
			Expect(k8sClient.Update(ctx, stored)).To(Succeed())
			Expect(fetch(ctx, stored).Object).NotTo(HaveKey("status"))
		})
	})
})

var _ = Describe("ElevationRequest status", func() {
	DescribeTable("each rule rejects a status that breaks it and accepts one that keeps it",
		func(ctx SpecContext, field, message string, reject, accept mutation) {
			stored := expectAccepted(ctx, elevationRequest(), nil)
			bad := stored.DeepCopy()
			set("status", object{})(bad.Object)
			reject(bad.Object)
			expectInvalid(k8sClient.Status().Update(ctx, bad), field, message)

			set("status", object{})(stored.Object)
			accept(stored.Object)
			sent := stored.DeepCopy().Object["status"]
			Expect(k8sClient.Status().Update(ctx, stored)).To(Succeed())
			expectStored(sent, fetch(ctx, stored).Object["status"], "status")
		},
		Entry("phase outside the lifecycle", "status.phase", `Unsupported value: "Granted"`,
			set("status.phase", "Granted"), set("status.phase", "Revoking")),
		Entry("condition status not True, False or Unknown", "status.conditions[0].status", `Unsupported value: "Yes"`,
			set("status.conditions", []any{condition("Granted", "Yes", "Granted")}),
			set("status.conditions", []any{condition("Granted", "True", "Granted")})),
		Entry("condition reason not a CamelCase word", "status.conditions[0].reason", "should match",
			set("status.conditions", []any{condition("Granted", "True", "not granted!")}),
			set("status.conditions", []any{condition("Granted", "True", "ProviderError")})),
		Entry("conditions with a duplicate type", "status.conditions[1]", "Duplicate value",
			set("status.conditions", []any{condition("Ready", "True", "Ok"), condition("Ready", "False", "Broken")}),
			set("status.conditions", []any{condition("Ready", "True", "Ok"), condition("Granted", "False", "Waiting")})),
		Entry("approval without the approver", "status.approvals[0].user", requiredMessage,
			set("status.approvals", []any{object{"at": "2030-01-01T00:00:00Z"}}),
			set("status.approvals", []any{object{"user": "bob", "at": "2030-01-01T00:00:00Z", "comment": "ok"}})),
		Entry("approval time not a timestamp", "status.approvals[0].at", "date-time",
			set("status.approvals", []any{object{"user": "bob", "at": "tomorrow"}}),
			set("status.approvals", []any{object{"user": "bob", "at": "2030-01-01T00:00:00Z"}})),
		Entry("more than 16 approvals", "status.approvals", "must have at most 16 items",
			set("status.approvals", approvals(17)), set("status.approvals", approvals(16))),
		Entry("approval comment over 1024 bytes", "status.approvals[0].comment", tooLong(1024),
			set("status.approvals", []any{object{"user": "bob", "at": "2030-01-01T00:00:00Z", "comment": strings.Repeat("c", 1025)}}),
			set("status.approvals", []any{object{"user": "bob", "at": "2030-01-01T00:00:00Z", "comment": strings.Repeat("c", 1024)}})),
		Entry("approver name over 512 bytes", "status.approvals[0].user", tooLong(512),
			set("status.approvals", []any{object{"user": strings.Repeat("u", 513), "at": "2030-01-01T00:00:00Z"}}),
			set("status.approvals", []any{object{"user": strings.Repeat("u", 512), "at": "2030-01-01T00:00:00Z"}})),
		Entry("denial reason over 1024 bytes", "status.denial.reason", tooLong(1024),
			set("status.denial", object{"user": "bob", "at": "2030-01-01T00:00:00Z", "reason": strings.Repeat("r", 1025)}),
			set("status.denial", object{"user": "bob", "at": "2030-01-01T00:00:00Z", "reason": strings.Repeat("r", 1024)})),
		Entry("more than 16 conditions", "status.conditions", "must have at most 16 items",
			set("status.conditions", conditions(17)), set("status.conditions", conditions(16))),
		Entry("expiresAt not a timestamp", "status.expiresAt", "date-time",
			set("status.expiresAt", "in an hour"), set("status.expiresAt", "2030-01-01T10:00:00Z")),
		Entry("revocation without a reason", "status.revocation.reason", requiredMessage,
			set("status.revocation", object{"requestedBy": "bob"}),
			set("status.revocation", object{"reason": "EarlyRevoke", "requestedBy": "bob"})),
		Entry("granted role breaking the role name pattern", "status.grant.role.name", "should match",
			set("status.grant", object{"startedAt": "2030-01-01T00:00:00Z", "role": object{"name": "Admin_Role"}}),
			set("status.grant", object{"startedAt": "2030-01-01T00:00:00Z", "role": object{"name": "admin", "kubernetes": object{"clusterRole": "admin", "clusterWide": true}}})),
	)
})

// approvals are n approvals by distinct users.
func approvals(n int) []any {
	out := make([]any, 0, n)
	for i := range n {
		out = append(out, object{"user": fmt.Sprintf("approver-%d", i), "at": "2030-01-01T00:00:00Z"})
	}
	return out
}

// conditions are n conditions of distinct types.
func conditions(n int) []any {
	out := make([]any, 0, n)
	for i := range n {
		out = append(out, condition(fmt.Sprintf("Type%d", i), "True", "Ok"))
	}
	return out
}

// condition is a metav1.Condition as the apiserver receives it.
func condition(typ, status, reason string) object {
	return object{
		"type": typ, "status": status, "reason": reason,
		"message": "test", "lastTransitionTime": "2030-01-01T00:00:00Z",
	}
}

// fetch reads the current state of u from the apiserver.
func fetch(ctx SpecContext, u *unstructured.Unstructured) *unstructured.Unstructured {
	GinkgoHelper()
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(u.GroupVersionKind())
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), got)).To(Succeed())
	return got
}
