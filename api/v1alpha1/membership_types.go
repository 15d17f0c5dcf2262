package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MembershipRole is a user's role in an organization.
// +kubebuilder:validation:Enum=owner;maintainer;supervisor;worker
type MembershipRole string

// The roles a member can hold, from most to least privileged.
const (
	RoleOwner      MembershipRole = "owner"
	RoleMaintainer MembershipRole = "maintainer"
	RoleSupervisor MembershipRole = "supervisor"
	RoleWorker     MembershipRole = "worker"
)

// MembershipState tells whether a membership is in force or still an invitation.
// +kubebuilder:validation:Enum=active;pending
type MembershipState string

// The states of a membership.
const (
	MembershipActive  MembershipState = "active"
	MembershipPending MembershipState = "pending"
)

// MembershipSpec is the declared state of a membership.
type MembershipSpec struct {
	// organization is the slug (metadata.name) of the Organization.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="organization is immutable: delete the membership and create a new one"
	Organization string `json:"organization"`

	// user is the metadata.name of the User.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=236
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="user is immutable: delete the membership and create a new one"
	User string `json:"user"`

	// role is the user's role in the organization: owner, maintainer,
	// supervisor or worker.
	// +required
	Role MembershipRole `json:"role"`

	// state is active for a member, pending for an invitation not yet accepted.
	// +optional
	// +kubebuilder:default=active
	State MembershipState `json:"state,omitempty"`

	// invitedBy is the username of who invited the user, recorded when the
	// directory creates an invitation. Immutable once set.
	// +optional
	// +kubebuilder:validation:MaxLength=150
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="invitedBy is immutable"
	InvitedBy string `json:"invitedBy,omitempty"`
}

// MembershipStatus is the observed state of a membership.
type MembershipStatus struct {
	// joinedDate is when the membership became active.
	// +optional
	JoinedDate *metav1.Time `json:"joinedDate,omitempty"`

	// conditions describe the membership's state: Ready, Reconciling and Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the controller last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// Membership makes a user a member of an organization with a role. There is
// exactly one per (organization, user) pair: its metadata.name must be
// "<organization>.<user>" (organization slugs contain no dot).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=mbr,categories=roster
// +kubebuilder:printcolumn:name="Organization",type=string,JSONPath=`.spec.organization`
// +kubebuilder:printcolumn:name="User",type=string,JSONPath=`.spec.user`
// +kubebuilder:printcolumn:name="Role",type=string,JSONPath=`.spec.role`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.spec.state`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Joined",type=date,JSONPath=`.status.joinedDate`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name == self.spec.organization + '.' + self.spec.user",message="metadata.name must be <spec.organization>.<spec.user>, so that a user has at most one membership per organization"
type Membership struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the declared membership.
	// +required
	Spec MembershipSpec `json:"spec"`

	// status is the membership as the controllers observe it.
	// +optional
	Status MembershipStatus `json:"status,omitempty"`
}

// MembershipName is the only valid metadata.name of the membership of user in organization.
func MembershipName(organization, user string) string {
	return organization + "." + user
}

// Active reports whether the membership is in force rather than a pending invitation.
func (m *Membership) Active() bool {
	return m.Spec.Active()
}

// Active reports whether the spec's state is active rather than pending.
func (s *MembershipSpec) Active() bool {
	return s.State != MembershipPending
}

// MembershipList is a list of Membership.
// +kubebuilder:object:root=true
type MembershipList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the memberships.
	Items []Membership `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Membership{}, &MembershipList{})
}
