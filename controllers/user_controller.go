package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// +kubebuilder:rbac:groups=iam.roster.dev,resources=users,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=iam.roster.dev,resources=users/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=iam.roster.dev,resources=users/finalizers,verbs=update
// +kubebuilder:rbac:groups=iam.roster.dev,resources=memberships,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=iam.roster.dev,resources=organizations,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=create
// +kubebuilder:rbac:groups="",resources=configmaps,resourceNames=roster-ids,verbs=get;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// maxUserOrganizations is the most organizations status.organizations lists (the CRD's MaxItems).
const maxUserOrganizations = 1024

// UserReconciler gives every User its numeric ID, reports its organizations
// and username or identity conflicts in status, and removes its memberships
// when it is deleted.
type UserReconciler struct {
	// written holds this process\'s status writes the cache has not caught up with.
	written *writtenStatus[iamv1alpha1.UserStatus]
	client.Client
	Recorder recorder.EventRecorder
	IDs      *idAllocator
	// StalledRetry is how often a Stalled User is tried again.
	StalledRetry time.Duration
}

// Reconcile brings one User's metadata and status in line with the cluster.
func (r *UserReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	k := &skeleton[*iamv1alpha1.User, iamv1alpha1.UserStatus]{
		name: "user", client: r.Client, written: r.written,
		status:       func(u *iamv1alpha1.User) *iamv1alpha1.UserStatus { return &u.Status },
		copy:         func(s iamv1alpha1.UserStatus) iamv1alpha1.UserStatus { return *s.DeepCopy() },
		conditions:   func(u *iamv1alpha1.User) *[]metav1.Condition { return &u.Status.Conditions },
		observe:      func(u *iamv1alpha1.User) { u.Status.ObservedGeneration = u.Generation },
		stalledRetry: r.StalledRetry,
		recorder:     r.Recorder,
		// A move into a Ready=False state users must act on.
		warn: func(reason string) bool {
			return reason == ReasonUsernameConflict || reason == ReasonIdentityConflict || idProblem(reason)
		},
		finalize: r.finalize,
	}
	return k.reconcile(ctx, req, &iamv1alpha1.User{}, r.reconcileID, r.reconcileOrganizations, r.reconcileClaims)
}

// reconcileID makes sure the User has its ID, its ID annotation and the
// cleanup finalizer, and fills the status fields that follow from the User
// alone: id, username and dateJoined. It stops the pass after a metadata write: the watch
// event of that write starts the next one.
func (r *UserReconciler) reconcileID(ctx context.Context, u *iamv1alpha1.User) (bool, error) {
	id, patched, err := ensureIDAndFinalizer(ctx, r.Client, r.IDs, r.Recorder, userIDs, u, u.Status.ID)
	if err != nil || patched {
		return true, err
	}
	u.Status.ID = id
	u.Status.Username = u.EffectiveUsername()
	if u.Status.DateJoined == nil {
		joined := u.CreationTimestamp
		u.Status.DateJoined = &joined
	}
	return false, nil
}

// reconcileOrganizations lists the organizations the User is an active
// member of, skipping organizations that do not exist or are being deleted.
func (r *UserReconciler) reconcileOrganizations(ctx context.Context, u *iamv1alpha1.User) (bool, error) {
	var memberships iamv1alpha1.MembershipList
	if err := r.List(ctx, &memberships, client.MatchingFields{indexMembershipUser: u.Name}); err != nil {
		return true, fmt.Errorf("listing memberships of User %q: %w", u.Name, err)
	}
	orgs := []iamv1alpha1.UserOrganization{}
	for i := range memberships.Items {
		m := &memberships.Items[i]
		if !m.Active() || m.DeletionTimestamp != nil {
			continue
		}
		org := &iamv1alpha1.Organization{}
		if err := r.Get(ctx, client.ObjectKey{Name: m.Spec.Organization}, org); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return true, fmt.Errorf("getting Organization %q: %w", m.Spec.Organization, err)
		}
		if org.DeletionTimestamp != nil {
			continue
		}
		orgs = append(orgs, iamv1alpha1.UserOrganization{Organization: org.Name, Role: m.Spec.Role})
	}
	slices.SortFunc(orgs, func(a, b iamv1alpha1.UserOrganization) int { return strings.Compare(a.Organization, b.Organization) })
	if len(orgs) > maxUserOrganizations {
		orgs = orgs[:maxUserOrganizations]
	}
	if len(orgs) == 0 {
		orgs = nil
	}
	u.Status.Organizations = orgs
	return false, nil
}

// reconcileClaims sets Ready: False with UsernameConflict or IdentityConflict
// when an older User (by creation time, then name) already claims one of
// this User's login names, True otherwise.
func (r *UserReconciler) reconcileClaims(ctx context.Context, u *iamv1alpha1.User) (bool, error) {
	for i, name := range loginNames(u) {
		var claimants iamv1alpha1.UserList
		if err := r.List(ctx, &claimants, client.MatchingFields{indexLoginName: name}); err != nil {
			return true, fmt.Errorf("looking up users claiming %q: %w", name, err)
		}
		var first *iamv1alpha1.User
		for j := range claimants.Items {
			other := &claimants.Items[j]
			if other.UID == u.UID || other.DeletionTimestamp != nil || !older(other, u) {
				continue
			}
			if first == nil || older(other, first) {
				first = other
			}
		}
		if first == nil {
			continue
		}
		reason, message := claimConflict(i == 0, name, first)
		markStalled(&u.Status.Conditions, u.Generation, reason, message)
		return false, nil
	}
	markReady(&u.Status.Conditions, u.Generation, "User is ready")
	return false, nil
}

// claimConflict words the conflict over name with the older User other;
// isUsername tells whether name is this User's username or one of its identities.
func claimConflict(isUsername bool, name string, other *iamv1alpha1.User) (reason, message string) {
	otherUsername := other.EffectiveUsername() == name
	switch {
	case isUsername && otherUsername:
		return ReasonUsernameConflict, fmt.Sprintf("username %q is already used by User %q", name, other.Name)
	case isUsername:
		return ReasonUsernameConflict, fmt.Sprintf("username %q is already an identity of User %q", name, other.Name)
	case otherUsername:
		return ReasonIdentityConflict, fmt.Sprintf("identity %q is already the username of User %q", name, other.Name)
	default:
		return ReasonIdentityConflict, fmt.Sprintf("identity %q is already an identity of User %q", name, other.Name)
	}
}

// finalize deletes the User's memberships, then drops the finalizer.
func (r *UserReconciler) finalize(ctx context.Context, u *iamv1alpha1.User) error {
	return cleanUpMemberships(ctx, r.Client, r.Recorder, u, u.Status.Conditions, "User", indexMembershipUser)
}

// SetupWithManager registers the User controller. Membership events reach
// the User after the coalescing delay; Organization events that change
// whether the organization exists reach its members' Users; User events reach
// the other Users that claim one of the same names.
func (r *UserReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("user").
		For(&iamv1alpha1.User{}).
		Watches(&iamv1alpha1.Membership{}, enqueueAfter(opts.CoalesceDelay, r.userOfMembership),
			builder.WithPredicates(specOrExistenceChanged)).
		Watches(&iamv1alpha1.Organization{}, handler.EnqueueRequestsFromMapFunc(r.usersOfOrganization),
			builder.WithPredicates(existenceChanged)).
		Watches(&iamv1alpha1.User{}, handler.EnqueueRequestsFromMapFunc(r.usersClaimingSameNames),
			builder.WithPredicates(specOrExistenceChanged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles}).
		Complete(r)
}

func (r *UserReconciler) userOfMembership(_ context.Context, obj client.Object) []reconcile.Request {
	return requestsFor(obj.(*iamv1alpha1.Membership).Spec.User)
}

func (r *UserReconciler) usersOfOrganization(ctx context.Context, obj client.Object) []reconcile.Request {
	var memberships iamv1alpha1.MembershipList
	if err := r.List(ctx, &memberships, client.MatchingFields{indexMembershipOrganization: obj.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing memberships of organization", "organization", klog.KObj(obj))
		return nil
	}
	names := make([]string, 0, len(memberships.Items))
	for i := range memberships.Items {
		names = append(names, memberships.Items[i].Spec.User)
	}
	return requestsFor(names...)
}

func (r *UserReconciler) usersClaimingSameNames(ctx context.Context, obj client.Object) []reconcile.Request {
	var names []string
	for _, name := range loginNames(obj.(*iamv1alpha1.User)) {
		var claimants iamv1alpha1.UserList
		if err := r.List(ctx, &claimants, client.MatchingFields{indexLoginName: name}, client.UnsafeDisableDeepCopy); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing users claiming a name", "user", klog.KObj(obj))
			return nil
		}
		for i := range claimants.Items {
			if claimants.Items[i].Name != obj.GetName() {
				names = append(names, claimants.Items[i].Name)
			}
		}
	}
	return requestsFor(names...)
}
