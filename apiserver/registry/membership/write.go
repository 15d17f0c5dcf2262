package membership

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
	"github.com/roster-dev/roster/apiserver/directory"
	"github.com/roster-dev/roster/apiserver/query"
)

var kind = directoryv1alpha1.SchemeGroupVersion.WithKind("Membership").GroupKind()

func invalid(name string, errs ...*field.Error) error {
	return apierrors.NewInvalid(kind, name, errs)
}

// readOnly refuses the fields nobody writes through the directory, set to
// anything but what they were (old, nil for a new membership).
func readOnly(name string, old, m *directoryv1alpha1.Membership) error {
	if old == nil {
		old = &directoryv1alpha1.Membership{}
	}
	var errs field.ErrorList
	forbid := func(path string, changed bool) {
		if changed {
			errs = append(errs, field.Forbidden(field.NewPath(path), "this field cannot be written through the directory"))
		}
	}
	forbid("organizationId", m.OrganizationID != 0 && m.OrganizationID != old.OrganizationID)
	forbid("username", m.Username != "" && m.Username != old.Username)
	forbid("invitedBy", m.InvitedBy != "" && m.InvitedBy != old.InvitedBy)
	forbid("joinedDate", m.JoinedDate != nil && (old.JoinedDate == nil || !m.JoinedDate.Equal(old.JoinedDate)))
	forbid("metadata.labels", len(m.Labels) > 0 && fmt.Sprint(m.Labels) != fmt.Sprint(old.Labels))
	forbid("metadata.finalizers", len(m.Finalizers) > 0)
	if len(errs) > 0 {
		return invalid(name, errs...)
	}
	return nil
}

// Create invites a user to an organization: a pending membership, named
// <organization>.<user>, that records who invited them.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	defer directory.ObserveRequest(directory.KindWrite, time.Now())
	caller, err := r.dir.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in, ok := obj.(*directoryv1alpha1.Membership)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected a directory Membership, got %T", obj))
	}
	name := iamv1alpha1.MembershipName(in.Organization, in.User)
	var errs field.ErrorList
	if in.Organization == "" {
		errs = append(errs, field.Required(field.NewPath("organization"), "the organization's slug is required"))
	}
	if in.User == "" {
		errs = append(errs, field.Required(field.NewPath("user"), "the invitee's User name is required"))
	}
	if in.Role == "" {
		errs = append(errs, field.Required(field.NewPath("role"), "a role is required"))
	}
	if in.Name != "" && in.Name != name {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), in.Name, "must be <organization>.<user>, "+name))
	}
	if len(errs) > 0 {
		return nil, invalid(name, errs...)
	}
	if err := readOnly(name, nil, in); err != nil {
		return nil, err
	}
	state := iamv1alpha1.MembershipState(in.State)
	if state == "" {
		state = iamv1alpha1.MembershipPending
	}
	next := &iamv1alpha1.Membership{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: in.Annotations},
		Spec: iamv1alpha1.MembershipSpec{
			Organization: in.Organization, User: in.User, Role: iamv1alpha1.MembershipRole(in.Role), State: state,
		},
	}
	snap := r.dir.Snapshot()
	if _, ok := snap.Organization(in.Organization); !ok {
		return nil, directory.EngineError(&query.Error{Status: 404, Message: in.Organization + " organization does not exist."})
	}
	if err := mayInvite(caller, standingOf(snap, caller), next); err != nil {
		return nil, err
	}
	if invitee, err := r.dir.User(ctx, in.User); err != nil || !invitee.Active() {
		return nil, apierrors.NewNotFound(directoryv1alpha1.Resource("users"), in.User)
	}
	if caller.User != nil {
		next.Spec.InvitedBy = caller.User.EffectiveUsername()
	}
	if createValidation != nil {
		if err := createValidation(ctx, view(snap, next)); err != nil {
			return nil, err
		}
	}
	if err := r.dir.Create(ctx, next, resource, options != nil && directory.IsDryRun(options.DryRun)); err != nil {
		return nil, err
	}
	return view(r.dir.Snapshot(), next), nil
}

// Update applies a patch or a replacement: accepting an invitation (the
// invitee), changing a role (the owner or a maintainer, per the rules), or
// anything an administrator writes.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	defer directory.ObserveRequest(directory.KindWrite, time.Now())
	caller, snap, current, err := r.target(ctx, name)
	if err != nil {
		return nil, false, err
	}
	old := view(snap, current)
	old.ResourceVersion = ""
	obj, err := objInfo.UpdatedObject(ctx, old.DeepCopy())
	if err != nil {
		if _, ok := err.(apierrors.APIStatus); ok {
			return nil, false, err
		}
		return nil, false, apierrors.NewBadRequest("the patch does not apply: " + err.Error())
	}
	in, ok := obj.(*directoryv1alpha1.Membership)
	if !ok {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("expected a directory Membership, got %T", obj))
	}
	var errs field.ErrorList
	if in.Organization != current.Spec.Organization {
		errs = append(errs, field.Invalid(field.NewPath("organization"), in.Organization, "organization is immutable"))
	}
	if in.User != current.Spec.User {
		errs = append(errs, field.Invalid(field.NewPath("user"), in.User, "user is immutable"))
	}
	if in.Name != "" && in.Name != current.Name {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), in.Name, "metadata.name is immutable"))
	}
	role, state := iamv1alpha1.MembershipRole(in.Role), iamv1alpha1.MembershipState(in.State)
	if state == "" {
		state = current.Spec.State
	}
	if state != iamv1alpha1.MembershipActive && state != iamv1alpha1.MembershipPending && state != "" {
		errs = append(errs, field.NotSupported(field.NewPath("state"), in.State, []string{"active", "pending"}))
	}
	if len(errs) > 0 {
		return nil, false, invalid(name, errs...)
	}
	if err := readOnly(name, old, in); err != nil {
		return nil, false, err
	}
	s := standingOf(snap, caller)
	if err := mayChangeState(caller, current, state); err != nil {
		return nil, false, err
	}
	if err := mayChangeRole(caller, s, current, role); err != nil {
		return nil, false, err
	}
	if updateValidation != nil {
		if err := updateValidation(ctx, in, old); err != nil {
			return nil, false, err
		}
	}
	precondition := directory.UpdatePrecondition(in.ResourceVersion, objInfo)
	if precondition != "" && precondition != current.ResourceVersion {
		return nil, false, conflict(name)
	}
	next := current.DeepCopy()
	next.Spec.Role, next.Spec.State = role, state
	var patch client.Patch = client.MergeFrom(current)
	if precondition != "" {
		patch = client.MergeFromWithOptions(current, client.MergeFromWithOptimisticLock{})
	}
	dryRun := options != nil && directory.IsDryRun(options.DryRun)
	if err := r.dir.Client().Patch(ctx, next, patch, directory.WriteOptions[client.PatchOption](dryRun)...); err != nil {
		if apierrors.IsConflict(err) {
			return nil, false, conflict(name)
		}
		return nil, false, err
	}
	if !dryRun {
		r.dir.WaitForMembership(ctx, next.ResourceVersion, directory.ReadYourWritesTimeout)
	}
	return view(r.dir.Snapshot(), next), false, nil
}

// target resolves the caller and the membership a write names: one the
// caller may not see is a 404.
func (r *REST) target(ctx context.Context, name string) (*directory.Caller, *query.Snapshot, *iamv1alpha1.Membership, error) {
	caller, err := r.dir.Caller(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	snap := r.dir.Snapshot()
	current, err := r.visibleMembership(ctx, snap, caller, name)
	return caller, snap, current, err
}

func conflict(name string) error { return directory.Conflict(resource, name) }

// Delete declines an invitation or leaves an organization (one's own
// membership), or removes a member (the owner or a maintainer, per the rules).
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	defer directory.ObserveRequest(directory.KindWrite, time.Now())
	caller, snap, current, err := r.target(ctx, name)
	if err != nil {
		return nil, false, err
	}
	if err := mayDelete(caller, standingOf(snap, caller), current); err != nil {
		return nil, false, err
	}
	out := view(snap, current)
	if deleteValidation != nil {
		if err := deleteValidation(ctx, out); err != nil {
			return nil, false, err
		}
	}
	pre, ok := directory.DeletePreconditions(options, current)
	if !ok {
		return nil, false, conflict(name)
	}
	dryRun := options != nil && directory.IsDryRun(options.DryRun)
	if err := r.dir.Client().Delete(ctx, current.DeepCopy(), append(directory.WriteOptions[client.DeleteOption](dryRun), pre)...); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, apierrors.NewNotFound(resource, name)
		}
		if apierrors.IsConflict(err) {
			return nil, false, conflict(name)
		}
		return nil, false, err
	}
	if !dryRun {
		r.dir.WaitForMembershipGone(ctx, name, directory.ReadYourWritesTimeout)
	}
	return out, true, nil
}
