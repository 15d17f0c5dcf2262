package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OrganizationContact is how to reach an organization.
type OrganizationContact struct {
	// email is the organization's contact address.
	// +optional
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:XValidation:rule="self == '' || self.matches('^[^@\\\\s]+@[^@\\\\s.]+(\\\\.[^@\\\\s.]+)+$')",message="contact email must be a valid email address"
	Email string `json:"email,omitempty"`

	// phone is the organization's contact phone number.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Phone string `json:"phone,omitempty"`

	// location is the organization's postal address or place.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Location string `json:"location,omitempty"`
}

// OrganizationSpec is the declared state of an organization.
type OrganizationSpec struct {
	// displayName is the organization's human-readable name.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	DisplayName string `json:"displayName,omitempty"`

	// description says what the organization is for.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`

	// contact is how to reach the organization.
	// +optional
	Contact OrganizationContact `json:"contact,omitempty,omitzero"`

	// owner is the metadata.name of the User who owns the organization. The
	// controller makes sure the owner holds an active owner Membership.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Owner string `json:"owner,omitempty"`
}

// RoleCounts counts members by role.
type RoleCounts struct {
	// owner is the number of owners.
	// +optional
	Owner int32 `json:"owner,omitempty"`
	// maintainer is the number of maintainers.
	// +optional
	Maintainer int32 `json:"maintainer,omitempty"`
	// supervisor is the number of supervisors.
	// +optional
	Supervisor int32 `json:"supervisor,omitempty"`
	// worker is the number of workers.
	// +optional
	Worker int32 `json:"worker,omitempty"`
	// total is the sum over all roles.
	// +optional
	Total int32 `json:"total,omitempty"`
}

// OrganizationMembers counts an organization's memberships.
type OrganizationMembers struct {
	// active counts active memberships by role.
	// +optional
	Active RoleCounts `json:"active,omitempty,omitzero"`
	// pending counts pending invitations by role.
	// +optional
	Pending RoleCounts `json:"pending,omitempty,omitzero"`
}

// OrganizationStatus is the observed state of an organization.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.id) || oldSelf.id == 0 || (has(self.id) && self.id == oldSelf.id)",message="id cannot change once allocated"
type OrganizationStatus struct {
	// id is the organization's numeric ID: unique among organizations and never reused.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=9007199254740991
	ID int64 `json:"id,omitempty"`

	// members counts the organization's memberships by state and role.
	// +optional
	Members OrganizationMembers `json:"members,omitempty,omitzero"`

	// conditions describe the organization's state: Ready, Reconciling and Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the controller last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// Organization is a group of users who work together. Its metadata.name is
// its slug.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=org,categories=roster
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.owner`
// +kubebuilder:printcolumn:name="ID",type=integer,JSONPath=`.status.id`
// +kubebuilder:printcolumn:name="Members",type=integer,JSONPath=`.status.members.active.total`
// +kubebuilder:printcolumn:name="Pending",type=integer,JSONPath=`.status.members.pending.total`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 16",message="metadata.name (the organization's slug) must be at most 16 characters"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name (the organization's slug) may contain only lowercase letters, digits and '-', and must start and end with a letter or digit"
type Organization struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the declared organization.
	// +optional
	Spec OrganizationSpec `json:"spec,omitempty"`

	// status is the organization as the controllers observe it.
	// +optional
	Status OrganizationStatus `json:"status,omitempty"`
}

// OrganizationList is a list of Organization.
// +kubebuilder:object:root=true
type OrganizationList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the organizations.
	Items []Organization `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Organization{}, &OrganizationList{})
}
