package user

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
	"github.com/roster-dev/roster/apiserver/query"
)

// view renders a User as a caller sees it: the basic view (id, username,
// first and last name) for other users, the full view for administrators
// and for the caller's own record.
func view(u *iamv1alpha1.User, full bool) *directoryv1alpha1.User {
	out := &directoryv1alpha1.User{
		TypeMeta: metav1.TypeMeta{APIVersion: directoryv1alpha1.SchemeGroupVersion.String(), Kind: "User"},
		ObjectMeta: metav1.ObjectMeta{
			Name:              u.Name,
			UID:               u.UID,
			ResourceVersion:   u.ResourceVersion,
			CreationTimestamp: u.CreationTimestamp,
			DeletionTimestamp: u.DeletionTimestamp,
		},
		ID:        u.Status.ID,
		Username:  u.EffectiveUsername(),
		FirstName: u.Spec.FirstName,
		LastName:  u.Spec.LastName,
	}
	if !full {
		return out
	}
	out.Generation = u.Generation
	out.Labels = u.Labels
	out.Annotations = visibleAnnotations(u.Annotations)
	if len(u.Status.Conditions) > 0 || u.Status.ObservedGeneration > 0 {
		out.Status = &directoryv1alpha1.UserStatus{
			ObservedGeneration: u.Status.ObservedGeneration,
			Conditions:         u.Status.Conditions,
		}
	}
	out.Email = new(u.Spec.Email)
	out.IsActive = new(u.Active())
	out.IsStaff = new(u.Spec.IsStaff)
	out.IsSuperuser = new(u.Spec.IsSuperuser)
	out.Groups = u.Spec.Groups
	out.LastLogin = u.Status.LastLogin
	out.DateJoined = u.Status.DateJoined
	if out.DateJoined == nil {
		out.DateJoined = &u.CreationTimestamp
	}
	return out
}

// rosterAnnotations is the prefix of the annotations Roster keeps on a User
// for itself (its numeric ID): the directory neither shows nor writes them.
const rosterAnnotations = "iam.roster.dev/"

// visibleAnnotations are a User's annotations but Roster's own.
func visibleAnnotations(in map[string]string) map[string]string {
	var out map[string]string
	for k, v := range in {
		if strings.HasPrefix(k, rosterAnnotations) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}

// organizations renders the memberships of `self`.
func organizations(roles []query.MembershipRole) []directoryv1alpha1.UserOrganization {
	out := make([]directoryv1alpha1.UserOrganization, 0, len(roles))
	for _, r := range roles {
		out = append(out, directoryv1alpha1.UserOrganization{
			Slug: r.Organization, ID: r.OrganizationID, Role: string(r.Role), Active: r.Active,
		})
	}
	return out
}
