package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UserSpec is the declared state of a user account.
type UserSpec struct {
	// username is the login name, unique across users. It defaults to
	// metadata.name when omitted.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=150
	// +kubebuilder:validation:XValidation:rule="self.matches('^[\\\\w.@+-]+$')",message="username may contain only letters, digits and @ . + - _"
	Username string `json:"username,omitempty"`

	// firstName is the user's given name.
	// +optional
	// +kubebuilder:validation:MaxLength=150
	FirstName string `json:"firstName,omitempty"`

	// lastName is the user's family name.
	// +optional
	// +kubebuilder:validation:MaxLength=150
	LastName string `json:"lastName,omitempty"`

	// email is the user's email address.
	// +optional
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:XValidation:rule="self == '' || self.matches('^[^@\\\\s]+@[^@\\\\s.]+(\\\\.[^@\\\\s.]+)+$')",message="email must be a valid email address"
	Email string `json:"email,omitempty"`

	// isActive tells whether the account may be used. Inactive users are kept
	// but cannot act.
	// +optional
	// +kubebuilder:default=true
	IsActive *bool `json:"isActive,omitempty"`

	// isStaff marks members of the platform staff.
	// +optional
	IsStaff bool `json:"isStaff,omitempty"`

	// isSuperuser grants every permission in the directory.
	// +optional
	IsSuperuser bool `json:"isSuperuser,omitempty"`

	// groups are the user's privilege groups, for example admin, user or worker.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=64
	Groups []string `json:"groups,omitempty"`

	// identities are further Kubernetes user names that map to this user, for
	// example prefixed OIDC names such as "oidc:alice@example.com".
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	Identities []string `json:"identities,omitempty"`
}

// UserOrganization is one organization the user is an active member of.
type UserOrganization struct {
	// organization is the organization's slug (its metadata.name).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=16
	Organization string `json:"organization"`

	// role is the user's role in the organization.
	// +required
	Role MembershipRole `json:"role"`
}

// UserStatus is the observed state of a user account.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.id) || oldSelf.id == 0 || (has(self.id) && self.id == oldSelf.id)",message="id cannot change once allocated"
type UserStatus struct {
	// id is the user's numeric ID: unique among users and never reused.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=9007199254740991
	ID int64 `json:"id,omitempty"`

	// username is the name the user logs in with, as the controller last
	// resolved it: spec.username, or metadata.name where that is empty.
	// +optional
	// +kubebuilder:validation:MaxLength=150
	Username string `json:"username,omitempty"`

	// dateJoined is when the account was created.
	// +optional
	DateJoined *metav1.Time `json:"dateJoined,omitempty"`

	// lastLogin is the time of the user's last authenticated request through
	// the directory.
	// +optional
	LastLogin *metav1.Time `json:"lastLogin,omitempty"`

	// organizations lists the organizations in which the user holds an active
	// membership, with the role held.
	// +optional
	// +listType=map
	// +listMapKey=organization
	// +kubebuilder:validation:MaxItems=1024
	Organizations []UserOrganization `json:"organizations,omitempty"`

	// conditions describe the user's state: Ready, Reconciling and Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the controller last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// User is a person's account in the directory.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=usr,categories=roster
// +kubebuilder:printcolumn:name="Username",type=string,JSONPath=`.status.username`
// +kubebuilder:printcolumn:name="Email",type=string,JSONPath=`.spec.email`
// +kubebuilder:printcolumn:name="Active",type=boolean,JSONPath=`.spec.isActive`
// +kubebuilder:printcolumn:name="Staff",type=boolean,JSONPath=`.spec.isStaff`
// +kubebuilder:printcolumn:name="Superuser",type=boolean,JSONPath=`.spec.isSuperuser`
// +kubebuilder:printcolumn:name="ID",type=integer,JSONPath=`.status.id`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="has(self.spec.username) || (size(self.metadata.name) <= 150 && self.metadata.name.matches('^[\\\\w.@+-]+$'))",message="metadata.name must be a valid username (at most 150 characters) when spec.username is omitted"
// +kubebuilder:validation:XValidation:rule="self.metadata.name != 'self'",message="metadata.name self is reserved: users/self names the caller's own user in the directory"
type User struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the declared account.
	// +optional
	Spec UserSpec `json:"spec,omitempty"`

	// status is the account as the controllers observe it.
	// +optional
	Status UserStatus `json:"status,omitempty"`
}

// EffectiveUsername is spec.username, or metadata.name when it is omitted.
func (u *User) EffectiveUsername() string {
	if u.Spec.Username != "" {
		return u.Spec.Username
	}
	return u.Name
}

// Active reports spec.isActive, which defaults to true.
func (u *User) Active() bool {
	return u.Spec.IsActive == nil || *u.Spec.IsActive
}

// UserList is a list of User.
// +kubebuilder:object:root=true
type UserList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the users.
	Items []User `json:"items"`
}

func init() {
	SchemeBuilder.Register(&User{}, &UserList{})
}
