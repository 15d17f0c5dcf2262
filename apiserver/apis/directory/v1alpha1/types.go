package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// User is a user as the caller may see it. Other users get the basic view
// (id, username, firstName, lastName); the caller's own record and every
// record an administrator reads get the full view.
// +kubebuilder:object:root=true
type User struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata of the underlying iam.roster.dev User.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// id is the user's numeric ID, unique and never reused.
	// +optional
	ID int64 `json:"id"`
	// username is the login name.
	// +optional
	Username string `json:"username"`
	// firstName is the user's given name.
	// +optional
	FirstName string `json:"firstName"`
	// lastName is the user's family name.
	// +optional
	LastName string `json:"lastName"`

	// email is the user's email address (full view only).
	// +optional
	Email *string `json:"email,omitempty"`
	// isActive tells whether the account may be used (full view only).
	// +optional
	IsActive *bool `json:"isActive,omitempty"`
	// isStaff marks platform staff (full view only).
	// +optional
	IsStaff *bool `json:"isStaff,omitempty"`
	// isSuperuser grants every permission (full view only).
	// +optional
	IsSuperuser *bool `json:"isSuperuser,omitempty"`
	// groups are the user's privilege groups (full view only).
	// +optional
	// +listType=atomic
	Groups []string `json:"groups,omitempty"`
	// lastLogin is the time of the user's last authenticated request through
	// the directory (full view only).
	// +optional
	LastLogin *metav1.Time `json:"lastLogin,omitempty"`
	// dateJoined is when the account was created (full view only).
	// +optional
	DateJoined *metav1.Time `json:"dateJoined,omitempty"`
	// organizations are the caller's own organizations and roles (self only).
	// +optional
	// +listType=atomic
	Organizations []UserOrganization `json:"organizations,omitempty"`

	// status is the underlying iam.roster.dev User's readiness (full view
	// only), so that `kubectl wait --for=condition=Ready` and kstatus read it.
	// It is never written through the directory.
	// +optional
	Status *UserStatus `json:"status,omitempty"`
}

// UserStatus is the readiness of the underlying iam.roster.dev User.
type UserStatus struct {
	// observedGeneration is the generation the controllers last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions are the User's Ready, Reconciling and Stalled conditions.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// UserOrganization is one of the caller's memberships, shown on `self`.
type UserOrganization struct {
	// slug is the organization's slug.
	Slug string `json:"slug"`
	// id is the organization's numeric ID.
	// +optional
	ID int64 `json:"id,omitempty"`
	// role is the caller's role: owner, maintainer, supervisor or worker.
	Role string `json:"role"`
	// active is false for a pending invitation.
	Active bool `json:"active"`
}

// UserList is a page of users, with the REST pagination fields beside the
// standard items.
// +kubebuilder:object:root=true
type UserList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// count is the number of users matching the request, before paging.
	Count int64 `json:"count"`
	// next is the path and query of the next page, or null.
	// +optional
	Next *string `json:"next"`
	// previous is the path and query of the previous page, or null.
	// +optional
	Previous *string `json:"previous"`

	// items are the users on this page.
	// +listType=atomic
	Items []User `json:"items"`
}

// Membership is a user's membership of an organization as the caller may
// see it, served from the iam.roster.dev Membership of the same name
// (<organization>.<user>).
// +kubebuilder:object:root=true
type Membership struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata of the underlying iam.roster.dev Membership.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// organization is the organization's slug. Immutable.
	Organization string `json:"organization"`
	// organizationId is the organization's numeric ID. Read-only.
	// +optional
	OrganizationID int64 `json:"organizationId"`
	// user is the metadata.name of the member's User. Immutable.
	User string `json:"user"`
	// username is the member's username. Read-only.
	// +optional
	Username string `json:"username"`
	// role is owner, maintainer, supervisor or worker.
	Role string `json:"role"`
	// state is active for a member, pending for an invitation.
	// +optional
	State string `json:"state"`
	// invitedBy is the username of who invited the member through the
	// directory, "" otherwise. Read-only.
	// +optional
	InvitedBy string `json:"invitedBy"`
	// joinedDate is when the membership became active. Read-only.
	// +optional
	JoinedDate *metav1.Time `json:"joinedDate"`
	// status is the underlying Membership's readiness. Never written
	// through the directory.
	// +optional
	Status *MembershipStatus `json:"status,omitempty"`
}

// MembershipStatus is the readiness of the underlying iam.roster.dev Membership.
type MembershipStatus struct {
	// observedGeneration is the generation the controllers last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions are the Membership's Ready, Reconciling and Stalled conditions.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// MembershipList is a page of memberships, with the REST pagination fields
// beside the standard items.
// +kubebuilder:object:root=true
type MembershipList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// count is the number of memberships matching the request, before paging.
	Count int64 `json:"count"`
	// next is the path and query of the next page, or null.
	// +optional
	Next *string `json:"next"`
	// previous is the path and query of the previous page, or null.
	// +optional
	Previous *string `json:"previous"`

	// items are the memberships on this page.
	// +listType=atomic
	Items []Membership `json:"items"`
}
