package schema

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// object is a resource as the apiserver sees it. The tests build objects as
// plain maps, not Go structs, so that they can send what the Go types cannot
// express: empty strings behind omitempty, two providers, duplicate list keys.
type object = map[string]any

// mutation changes an object before it is sent.
type mutation func(object)

const apiVersion = "access.elevator.dev/v1alpha1"

// elevationRequest returns a valid ElevationRequest.
func elevationRequest() object {
	return object{
		"apiVersion": apiVersion,
		"kind":       "ElevationRequest",
		"metadata":   object{"generateName": "er-", "namespace": namespace},
		"spec": object{
			"subject":       "alice@example.com",
			"connection":    "prod-cluster",
			"role":          "namespace-admin",
			"duration":      "30m",
			"justification": "INC-1234: roll back the payments deployment",
			"ticket":        "INC-1234",
		},
	}
}

// connection returns a valid SaaSConnection with the given provider block and
// one role carrying the given role block of the same provider.
func connection(provider string, providerSpec, roleSpec object) object {
	return object{
		"apiVersion": apiVersion,
		"kind":       "SaaSConnection",
		"metadata":   object{"generateName": "conn-", "namespace": namespace},
		"spec": object{
			"provider":    object{provider: providerSpec},
			"maxDuration": "4h",
			"roles": []any{
				object{"name": "admin", "maxDuration": "1h", provider: roleSpec},
			},
		},
	}
}

func kubernetesConnection() object {
	return connection("kubernetes", object{},
		object{"clusterRole": "admin", "namespaces": []any{"payments"}})
}

func scimConnection() object {
	return connection("scim",
		object{"url": "https://scim.example.com/scim/v2", "credentialsSecretRef": object{"name": "scim-token"}},
		object{"group": "billing-admins"})
}

func ldapConnection() object {
	return connection("ldap",
		object{
			"url":                  "ldaps://ldap.example.com:636",
			"bindDN":               "cn=elevator,ou=services,dc=example,dc=com",
			"credentialsSecretRef": object{"name": "ldap-bind"},
			"userBaseDN":           "ou=people,dc=example,dc=com",
			"userFilter":           "(uid={subject})",
		},
		object{"groupDN": "cn=admins,ou=groups,dc=example,dc=com"})
}

func postgresConnection() object {
	return connection("postgres",
		object{"host": "db.example.com", "database": "payments", "credentialsSecretRef": object{"name": "pg-admin"}},
		object{"role": "payments_rw"})
}

// set returns a mutation that sets the value at a dotted path such as
// "spec.roles[0].name", creating missing maps on the way.
func set(path string, value any) mutation {
	return func(o object) {
		parent, last := walk(o, path)
		if last.index < 0 {
			parent[last.key] = value
			return
		}
		parent[last.key].([]any)[last.index] = value
	}
}

// unset returns a mutation that removes the field at a dotted path.
func unset(path string) mutation {
	return func(o object) {
		parent, last := walk(o, path)
		delete(parent, last.key)
	}
}

// both applies mutations in order.
func both(ms ...mutation) mutation {
	return func(o object) {
		for _, m := range ms {
			m(o)
		}
	}
}

// segment is one step of a path: a map key, then a list index when index >= 0.
type segment struct {
	key   string
	index int
}

func parsePath(path string) []segment {
	var segs []segment
	for _, part := range strings.Split(path, ".") {
		seg := segment{key: part, index: -1}
		if open := strings.IndexByte(part, '['); open >= 0 {
			n, err := strconv.Atoi(strings.TrimSuffix(part[open+1:], "]"))
			if err != nil {
				panic(fmt.Sprintf("bad path %q: %v", path, err))
			}
			seg = segment{key: part[:open], index: n}
		}
		segs = append(segs, seg)
	}
	return segs
}

// walk follows path to the map holding its last segment.
func walk(o object, path string) (object, segment) {
	segs := parsePath(path)
	cur := o
	for _, seg := range segs[:len(segs)-1] {
		next, ok := cur[seg.key]
		if !ok {
			next = object{}
			cur[seg.key] = next
		}
		if seg.index >= 0 {
			next = next.([]any)[seg.index]
		}
		cur = next.(object)
	}
	return cur, segs[len(segs)-1]
}

// create sends the object, after applying the mutation, and returns the
// object as the apiserver stored it (the sent map is updated in place).
func create(ctx context.Context, o object, m mutation) (*unstructured.Unstructured, error) {
	if m != nil {
		m(o)
	}
	u := &unstructured.Unstructured{Object: o}
	return u, k8sClient.Create(ctx, u)
}

// expectInvalid asserts that err is the apiserver's Invalid error with a cause
// on field whose message contains message.
func expectInvalid(err error, field, message string) {
	GinkgoHelper()
	Expect(err).To(HaveOccurred(), "the apiserver accepted an object that breaks the rule on %s", field)
	Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got: %v", err)
	var status apierrors.APIStatus
	Expect(errors.As(err, &status)).To(BeTrue())
	Expect(status.Status().Details).NotTo(BeNil(), err.Error())
	Expect(status.Status().Details.Causes).To(ContainElement(SatisfyAll(
		HaveField("Field", field),
		HaveField("Message", ContainSubstring(message)),
	)), "the error lacks the cause on %s: %v", field, err)
}

// expectStored asserts that every field that was sent came back unchanged, so
// an accepted object was not silently pruned of a misspelt field.
func expectStored(sent, stored any, path string) {
	GinkgoHelper()
	switch want := sent.(type) {
	case object:
		got, ok := stored.(object)
		Expect(ok).To(BeTrue(), "%s: stored %T, sent an object", path, stored)
		for k, v := range want {
			Expect(got).To(HaveKey(k), "%s.%s was sent but not stored (pruned as unknown?)", path, k)
			expectStored(v, got[k], path+"."+k)
		}
	case []any:
		got, ok := stored.([]any)
		Expect(ok).To(BeTrue(), "%s: stored %T, sent a list", path, stored)
		Expect(got).To(HaveLen(len(want)), path)
		for i := range want {
			expectStored(want[i], got[i], fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		Expect(stored).To(BeEquivalentTo(want), path)
	}
}

// expectAccepted creates the object and asserts that the apiserver stored its
// spec as sent.
func expectAccepted(ctx context.Context, o object, m mutation) *unstructured.Unstructured {
	GinkgoHelper()
	if m != nil {
		m(o)
	}
	sent := runtime.DeepCopyJSON(o)
	u, err := create(ctx, o, nil)
	Expect(err).NotTo(HaveOccurred(), "the apiserver rejected a valid object")
	stored := &unstructured.Unstructured{}
	stored.SetGroupVersionKind(u.GroupVersionKind())
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), stored)).To(Succeed())
	expectStored(sent["spec"], stored.Object["spec"], "spec")
	return stored
}
