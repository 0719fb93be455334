package controller

import (
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestEntitlementKeyDistinguishesFields(t *testing.T) {
	a := request("", func(er *accessv1alpha1.ElevationRequest) { er.Spec.Connection, er.Spec.Role = "c", "r/x" })
	b := request("", func(er *accessv1alpha1.ElevationRequest) { er.Spec.Connection, er.Spec.Role = "c/r", "x" })
	if entitlementKey(a) == entitlementKey(b) {
		t.Fatal("keys of different connection/role pairs must differ")
	}
}
