package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the directory's API group.
const GroupName = "directory.roster.dev"

// SchemeGroupVersion is the group and version the directory serves.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Resource returns the group-qualified resource for a plural name.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

// AddToScheme registers the directory types with a scheme. The server has no
// separate internal version: the versioned types are registered as the
// internal ones too, so no conversion code is needed.
func AddToScheme(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion, &User{}, &UserList{}, &Membership{}, &MembershipList{})
	scheme.AddKnownTypes(schema.GroupVersion{Group: GroupName, Version: runtime.APIVersionInternal}, &User{}, &UserList{}, &Membership{}, &MembershipList{})
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}
