package controllers

import (
	"context"
	"fmt"
	"strconv"

	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// Field indexes on the manager's cache. Every lookup between kinds goes
// through one of them, so no reconcile scans a whole list.
const (
	// indexLoginName indexes a User by every name it claims: its effective
	// username and each of its identities.
	indexLoginName = "iam.roster.dev/login-name"
	// indexID indexes a User or an Organization by its numeric ID, from
	// status.id or, while status has none, from the ID annotation.
	indexID = "iam.roster.dev/id"
	// indexPendingID holds the Users and Organizations that have no ID yet,
	// under the key "true"; the allocator sizes its reservations with it.
	indexPendingID = "iam.roster.dev/pending-id"
	// indexMembershipUser indexes a Membership by spec.user.
	indexMembershipUser = "spec.user"
	// indexMembershipOrganization indexes a Membership by spec.organization.
	indexMembershipOrganization = "spec.organization"
	// indexOrganizationOwner indexes an Organization by spec.owner.
	indexOrganizationOwner = "spec.owner"
)

// idHolder is what Users and Organizations have in common for ID allocation.
type idHolder interface {
	client.Object
	statusID() int64
}

// recordedID is the ID an object holds: status.id, or the ID annotation when
// status has none (for example after a restore that dropped status). An
// unusable annotation holds no ID.
func recordedID(obj idHolder) int64 {
	if id := obj.statusID(); id > 0 {
		return id
	}
	id, _ := annotationID(obj)
	return id
}

// annotationID parses the ID annotation: 0 when it is missing, an error when
// it is not an integer from 1 to MaxID.
func annotationID(obj client.Object) (int64, error) {
	v, ok := obj.GetAnnotations()[AnnotationID]
	if !ok {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 || id > iamv1alpha1.MaxID {
		return 0, fmt.Errorf("annotation %s is %q: an ID is an integer from 1 to %d", AnnotationID, v, iamv1alpha1.MaxID)
	}
	return id, nil
}

type userIDHolder struct{ *iamv1alpha1.User }

func (u userIDHolder) statusID() int64 { return u.Status.ID }

type orgIDHolder struct{ *iamv1alpha1.Organization }

func (o orgIDHolder) statusID() int64 { return o.Status.ID }

func idIndexer(wrap func(client.Object) idHolder) client.IndexerFunc {
	return func(obj client.Object) []string {
		if id := recordedID(wrap(obj)); id > 0 {
			return []string{strconv.FormatInt(id, 10)}
		}
		return nil
	}
}

func pendingIDIndexer(wrap func(client.Object) idHolder) client.IndexerFunc {
	return func(obj client.Object) []string {
		if recordedID(wrap(obj)) == 0 && obj.GetDeletionTimestamp() == nil {
			return []string{"true"}
		}
		return nil
	}
}

func wrapUser(obj client.Object) idHolder { return userIDHolder{obj.(*iamv1alpha1.User)} }
func wrapOrg(obj client.Object) idHolder  { return orgIDHolder{obj.(*iamv1alpha1.Organization)} }

// loginNames are the names a User claims: its effective username first, then
// its identities.
func loginNames(u *iamv1alpha1.User) []string {
	names := make([]string, 0, 1+len(u.Spec.Identities))
	names = append(names, u.EffectiveUsername())
	for _, id := range u.Spec.Identities {
		if id != u.EffectiveUsername() {
			names = append(names, id)
		}
	}
	return names
}

// setupIndexes registers every field index the reconcilers use.
func setupIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	indexes := []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&iamv1alpha1.User{}, indexLoginName, func(obj client.Object) []string { return loginNames(obj.(*iamv1alpha1.User)) }},
		{&iamv1alpha1.User{}, indexID, idIndexer(wrapUser)},
		{&iamv1alpha1.User{}, indexPendingID, pendingIDIndexer(wrapUser)},
		{&iamv1alpha1.Organization{}, indexID, idIndexer(wrapOrg)},
		{&iamv1alpha1.Organization{}, indexPendingID, pendingIDIndexer(wrapOrg)},
		{&iamv1alpha1.Organization{}, indexOrganizationOwner, func(obj client.Object) []string {
			if o := obj.(*iamv1alpha1.Organization).Spec.Owner; o != "" {
				return []string{o}
			}
			return nil
		}},
		{&iamv1alpha1.Membership{}, indexMembershipUser, func(obj client.Object) []string {
			return []string{obj.(*iamv1alpha1.Membership).Spec.User}
		}},
		{&iamv1alpha1.Membership{}, indexMembershipOrganization, func(obj client.Object) []string {
			return []string{obj.(*iamv1alpha1.Membership).Spec.Organization}
		}},
	}
	for _, ix := range indexes {
		if err := indexer.IndexField(ctx, ix.obj, ix.field, ix.fn); err != nil {
			return fmt.Errorf("indexing %T by %s: %w", ix.obj, ix.field, err)
		}
	}
	return nil
}
