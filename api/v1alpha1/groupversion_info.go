// Package v1alpha1 contains the API of Elevator: ElevationRequest, a request for a
// privileged role for a fixed window, and SaaSConnection, one downstream system and
// the policy for elevating into it.
// +kubebuilder:object:generate=true
// +groupName=access.elevator.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "access.elevator.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&ElevationRequest{}, &ElevationRequestList{},
		&SaaSConnection{}, &SaaSConnectionList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
