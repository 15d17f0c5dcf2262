// Package v1alpha1 contains the iam.roster.dev/v1alpha1 API: User,
// Organization and Membership, the declarative source of truth of Roster.
// +kubebuilder:object:generate=true
// +groupName=iam.roster.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of Roster's CRDs.
	GroupVersion = schema.GroupVersion{Group: "iam.roster.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this group with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this group to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
