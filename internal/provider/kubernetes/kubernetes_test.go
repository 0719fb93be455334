package kubernetes

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestBindingName(t *testing.T) {
	long := strings.Repeat("a", 253)
	cases := []types.NamespacedName{
		{Namespace: "payments", Name: "inc-4711-alice"},
		{Namespace: "payments", Name: long},
		{Namespace: "other", Name: "inc-4711-alice"},
		{Namespace: "payments", Name: strings.Repeat("a", 39) + ".bbb"},
		{Namespace: "payments", Name: "inc.4711.alice"},
	}
	seen := map[string]types.NamespacedName{}
	for _, holder := range cases {
		name := BindingName(holder)
		if name != BindingName(holder) {
			t.Errorf("%v: the name must be the same on every call", holder)
		}
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			t.Errorf("%v: %q is not a valid object name: %v", holder, name, errs)
		}
		if len(name) > 63 {
			t.Errorf("%v: %q is longer than 63 characters", holder, name)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("%v and %v share the binding name %q", prev, holder, name)
		}
		seen[name] = holder
	}
}

func TestLabelValue(t *testing.T) {
	if got := labelValue("inc-4711"); got != "inc-4711" {
		t.Errorf("a valid label value is kept, got %q", got)
	}
	long := strings.Repeat("b", 100)
	got := labelValue(long)
	if errs := validation.IsValidLabelValue(got); len(errs) > 0 || got == labelValue(long+"c") {
		t.Errorf("a long name becomes a valid, distinct hash label; got %q (%v)", got, errs)
	}
}

func TestMadeForNeedsEveryOwnerLabel(t *testing.T) {
	holder := types.NamespacedName{Namespace: "payments", Name: "inc-4711"}
	own := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Labels: labels(holder)}}
	if !madeFor(own, holder) {
		t.Fatal("a binding with the request's labels is the operator's own")
	}
	other := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Labels: labels(types.NamespacedName{Namespace: "payments", Name: "inc-4712"})}}
	unlabelled := &rbacv1.RoleBinding{}
	for name, b := range map[string]*rbacv1.RoleBinding{"another request's": other, "unlabelled": unlabelled} {
		if madeFor(b, holder) {
			t.Errorf("%s binding counted as the request's own", name)
		}
	}
}
