package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
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

// +kubebuilder:rbac:groups=iam.roster.dev,resources=organizations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=iam.roster.dev,resources=organizations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=iam.roster.dev,resources=organizations/finalizers,verbs=update
// +kubebuilder:rbac:groups=iam.roster.dev,resources=memberships,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=iam.roster.dev,resources=users,verbs=get;list;watch

// OrganizationReconciler gives every Organization its numeric ID, counts its
// members by state and role, makes sure its owner holds an active owner
// Membership, and removes its memberships when it is deleted.
type OrganizationReconciler struct {
	// written holds this process\'s status writes the cache has not caught up with.
	written *writtenStatus[iamv1alpha1.OrganizationStatus]
	client.Client
	Recorder recorder.EventRecorder
	IDs      *idAllocator
	// APIReader confirms that an owner Membership the cache does not hold is
	// really missing before one is created.
	APIReader client.Reader
	// memberCounts holds back status writes that only change member counts
	// while membership events keep coming.
	memberCounts *debouncer
	// StalledRetry is how often a Stalled Organization is tried again.
	StalledRetry time.Duration
}

// Reconcile brings one Organization's metadata, owner Membership and status in
// line with the cluster.
func (r *OrganizationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	k := &skeleton[*iamv1alpha1.Organization, iamv1alpha1.OrganizationStatus]{
		name: "organization", client: r.Client, written: r.written,
		status:       func(o *iamv1alpha1.Organization) *iamv1alpha1.OrganizationStatus { return &o.Status },
		copy:         func(s iamv1alpha1.OrganizationStatus) iamv1alpha1.OrganizationStatus { return *s.DeepCopy() },
		conditions:   func(o *iamv1alpha1.Organization) *[]metav1.Condition { return &o.Status.Conditions },
		observe:      func(o *iamv1alpha1.Organization) { o.Status.ObservedGeneration = o.Generation },
		stalledRetry: r.StalledRetry,
		recorder:     r.Recorder,
		warn:         func(reason string) bool { return ownerProblem(reason) || idProblem(reason) },
		finalize:     r.finalize,
		// More membership events are coming: count them all in one write.
		hold: func(o, before *iamv1alpha1.Organization) time.Duration {
			if wait := r.memberCounts.wait(o.Name); wait > 0 && onlyMembersChanged(&before.Status, &o.Status) {
				o.Status.Members = before.Status.Members
				return wait
			}
			return 0
		},
		afterWrite: func(o *iamv1alpha1.Organization) { r.memberCounts.done(o.Name) },
	}
	return k.reconcile(ctx, req, &iamv1alpha1.Organization{}, r.reconcileID, r.reconcileMembers, r.reconcileOwner)
}

// onlyMembersChanged reports whether after differs from before in member counts only.
func onlyMembersChanged(before, after *iamv1alpha1.OrganizationStatus) bool {
	if equality.Semantic.DeepEqual(before.Members, after.Members) {
		return false
	}
	b := *before
	b.Members = after.Members
	return equality.Semantic.DeepEqual(&b, after)
}

func ownerProblem(reason string) bool {
	return reason == ReasonOwnerNotFound || reason == ReasonOwnerRoleMismatch || reason == ReasonOwnerMembershipPending
}

// reconcileID makes sure the Organization has its ID, its ID annotation and
// the cleanup finalizer; it stops the pass after a metadata write.
func (r *OrganizationReconciler) reconcileID(ctx context.Context, o *iamv1alpha1.Organization) (bool, error) {
	id, patched, err := ensureIDAndFinalizer(ctx, r.Client, r.IDs, r.Recorder, organizationIDs, o, o.Status.ID)
	if err != nil || patched {
		return true, err
	}
	o.Status.ID = id
	return false, nil
}

// reconcileMembers counts the Organization's memberships by state and role.
// Memberships being deleted are not counted.
func (r *OrganizationReconciler) reconcileMembers(ctx context.Context, o *iamv1alpha1.Organization) (bool, error) {
	var memberships iamv1alpha1.MembershipList
	if err := r.List(ctx, &memberships, client.MatchingFields{indexMembershipOrganization: o.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return true, fmt.Errorf("listing memberships of Organization %q: %w", o.Name, err)
	}
	var members iamv1alpha1.OrganizationMembers
	for i := range memberships.Items {
		m := &memberships.Items[i]
		if m.DeletionTimestamp != nil {
			continue
		}
		counts := &members.Active
		if !m.Active() {
			counts = &members.Pending
		}
		switch m.Spec.Role {
		case iamv1alpha1.RoleOwner:
			counts.Owner++
		case iamv1alpha1.RoleMaintainer:
			counts.Maintainer++
		case iamv1alpha1.RoleSupervisor:
			counts.Supervisor++
		case iamv1alpha1.RoleWorker:
			counts.Worker++
		}
		counts.Total++
	}
	o.Status.Members = members
	return false, nil
}

// reconcileOwner checks that spec.owner names an existing User holding an
// active owner Membership, and creates that Membership when it is missing.
// A Membership of the owner with another role or still pending is reported,
// never overwritten: it was declared by a person and stays theirs to change.
func (r *OrganizationReconciler) reconcileOwner(ctx context.Context, o *iamv1alpha1.Organization) (bool, error) {
	owner := o.Spec.Owner
	if owner == "" {
		markReady(&o.Status.Conditions, o.Generation, "Organization is ready")
		return false, nil
	}
	ownerExists, err := exists(ctx, r.Client, &iamv1alpha1.User{}, owner)
	if err != nil {
		return true, err
	}
	if !ownerExists {
		markStalled(&o.Status.Conditions, o.Generation, ReasonOwnerNotFound, fmt.Sprintf("owner User %q does not exist", owner))
		return false, nil
	}
	name := iamv1alpha1.MembershipName(o.Name, owner)
	m := &iamv1alpha1.Membership{}
	err = r.Get(ctx, client.ObjectKey{Name: name}, m)
	switch {
	case apierrors.IsNotFound(err):
		live, err := exists(ctx, r.APIReader, &iamv1alpha1.Membership{}, name)
		if err != nil {
			return true, err
		}
		if live {
			// The cache lags (a bulk apply creates it right now); its create
			// event brings us back.
			return true, nil
		}
		if err := r.createOwnerMembership(ctx, o, name); err != nil {
			return true, err
		}
	case err != nil:
		return true, fmt.Errorf("getting Membership %q: %w", name, err)
	case m.DeletionTimestamp != nil:
		// Once it is gone, its delete event brings us back to recreate it.
		markReconciling(&o.Status.Conditions, o.Generation, ReasonProgressing,
			fmt.Sprintf("owner Membership %q is being deleted; it will be recreated", name))
		return true, nil
	case m.Spec.Role != iamv1alpha1.RoleOwner:
		markStalled(&o.Status.Conditions, o.Generation, ReasonOwnerRoleMismatch,
			fmt.Sprintf("owner User %q holds the %s role in Membership %q, not owner", owner, m.Spec.Role, name))
		return false, nil
	case !m.Active():
		markStalled(&o.Status.Conditions, o.Generation, ReasonOwnerMembershipPending,
			fmt.Sprintf("owner User %q has only a pending invitation in Membership %q", owner, name))
		return false, nil
	}
	markReady(&o.Status.Conditions, o.Generation, "Organization is ready")
	return false, nil
}

func (r *OrganizationReconciler) createOwnerMembership(ctx context.Context, o *iamv1alpha1.Organization, name string) error {
	m := &iamv1alpha1.Membership{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: iamv1alpha1.MembershipSpec{
			Organization: o.Name,
			User:         o.Spec.Owner,
			Role:         iamv1alpha1.RoleOwner,
			State:        iamv1alpha1.MembershipActive,
		},
	}
	if err := r.Create(ctx, m); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// The cache lags behind; the membership's create event brings us back.
			return nil
		}
		return fmt.Errorf("creating owner Membership %q: %w", name, err)
	}
	r.Recorder.Eventf(o, m, corev1.EventTypeNormal, ReasonOwnerMembershipCreated, "CreateMembership",
		"Created Membership %q making User %q the owner", name, o.Spec.Owner)
	return nil
}

// finalize deletes the Organization's memberships, then drops the finalizer.
func (r *OrganizationReconciler) finalize(ctx context.Context, o *iamv1alpha1.Organization) error {
	return cleanUpMemberships(ctx, r.Client, r.Recorder, o, o.Status.Conditions, "Organization", indexMembershipOrganization)
}

// SetupWithManager registers the Organization controller. Membership events
// reach the Organization after the coalescing delay, and a count-only status
// change waits until membership events pause (debouncer), so a burst of them
// costs one status write; User events that change whether a user exists reach the
// organizations it owns.
func (r *OrganizationReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if r.memberCounts == nil {
		r.memberCounts = newDebouncer(2*opts.CoalesceDelay, 5*opts.CoalesceDelay, 30*opts.CoalesceDelay)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("organization").
		For(&iamv1alpha1.Organization{}).
		Watches(&iamv1alpha1.Membership{}, enqueueAfter(opts.CoalesceDelay, func(_ context.Context, obj client.Object) []reconcile.Request {
			org := obj.(*iamv1alpha1.Membership).Spec.Organization
			r.memberCounts.touch(org)
			return requestsFor(org)
		}), builder.WithPredicates(specOrExistenceChanged)).
		Watches(&iamv1alpha1.User{}, handler.EnqueueRequestsFromMapFunc(r.organizationsOwnedBy),
			builder.WithPredicates(existenceChanged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles}).
		Complete(r)
}

func (r *OrganizationReconciler) organizationsOwnedBy(ctx context.Context, obj client.Object) []reconcile.Request {
	var orgs iamv1alpha1.OrganizationList
	if err := r.List(ctx, &orgs, client.MatchingFields{indexOrganizationOwner: obj.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing organizations owned by user", "user", klog.KObj(obj))
		return nil
	}
	names := make([]string, 0, len(orgs.Items))
	for i := range orgs.Items {
		names = append(names, orgs.Items[i].Name)
	}
	return requestsFor(names...)
}
