package controllers

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// +kubebuilder:rbac:groups=iam.roster.dev,resources=memberships,verbs=get;list;watch
// +kubebuilder:rbac:groups=iam.roster.dev,resources=memberships/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=iam.roster.dev,resources=users,verbs=get;list;watch
// +kubebuilder:rbac:groups=iam.roster.dev,resources=organizations,verbs=get;list;watch

// MembershipReconciler reports whether a Membership's user and organization
// exist, and when the membership became active.
type MembershipReconciler struct {
	// written holds this process\'s status writes the cache has not caught up with.
	written *writtenStatus[iamv1alpha1.MembershipStatus]
	client.Client
	// APIReader confirms with the API server that a user or organization the
	// cache does not hold is really missing, before status says so.
	APIReader client.Reader
}

// Reconcile brings one Membership's status in line with the cluster.
func (r *MembershipReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	k := &skeleton[*iamv1alpha1.Membership, iamv1alpha1.MembershipStatus]{
		name: "membership", client: r.Client, written: r.written,
		status:     func(m *iamv1alpha1.Membership) *iamv1alpha1.MembershipStatus { return &m.Status },
		copy:       func(s iamv1alpha1.MembershipStatus) iamv1alpha1.MembershipStatus { return *s.DeepCopy() },
		conditions: func(m *iamv1alpha1.Membership) *[]metav1.Condition { return &m.Status.Conditions },
		observe:    func(m *iamv1alpha1.Membership) { m.Status.ObservedGeneration = m.Generation },
	}
	return k.reconcile(ctx, req, &iamv1alpha1.Membership{}, r.reconcileReferences)
}

// reconcileReferences sets Ready: False with UserNotFound or
// OrganizationNotFound while the user or the organization does not exist (or
// is being deleted), True otherwise; and joinedDate once the membership is in
// force. Both missing objects are named in the message.
func (r *MembershipReconciler) reconcileReferences(ctx context.Context, m *iamv1alpha1.Membership) (bool, error) {
	var reason string
	var missing []string
	userExists, err := exists(ctx, r.Client, &iamv1alpha1.User{}, m.Spec.User)
	if err != nil {
		return true, err
	}
	if !userExists {
		reason = ReasonUserNotFound
		missing = append(missing, fmt.Sprintf("User %q does not exist", m.Spec.User))
	}
	orgExists, err := exists(ctx, r.Client, &iamv1alpha1.Organization{}, m.Spec.Organization)
	if err != nil {
		return true, err
	}
	if !orgExists {
		if reason == "" {
			reason = ReasonOrganizationNotFound
		}
		missing = append(missing, fmt.Sprintf("Organization %q does not exist", m.Spec.Organization))
	}
	if reason != "" {
		lagging, err := r.cacheLags(ctx, m, userExists, orgExists)
		if err != nil || lagging {
			// The watch event of the object the cache misses brings us back.
			return true, err
		}
		markStalled(&m.Status.Conditions, m.Generation, reason, strings.Join(missing, "; "))
		return false, nil
	}
	if m.Active() && m.Status.JoinedDate == nil {
		// A membership that is in force the first time the controller sees it
		// joined when it was created; one that becomes so later joins now.
		joined := metav1.Now()
		if len(m.Status.Conditions) == 0 {
			joined = m.CreationTimestamp
		}
		m.Status.JoinedDate = &joined
	}
	if m.Active() {
		markReady(&m.Status.Conditions, m.Generation, "Membership is active")
	} else {
		markReady(&m.Status.Conditions, m.Generation, "Invitation is pending")
	}
	return false, nil
}

// cacheLags reports whether a user or organization the cache misses does
// exist on the API server: right after a bulk apply the membership's own
// event often arrives before its user's. Waiting for that user's event spares
// a status write that would say UserNotFound for a few milliseconds.
func (r *MembershipReconciler) cacheLags(ctx context.Context, m *iamv1alpha1.Membership, userExists, orgExists bool) (bool, error) {
	if !userExists {
		if live, err := exists(ctx, r.APIReader, &iamv1alpha1.User{}, m.Spec.User); err != nil || live {
			return live, err
		}
	}
	if !orgExists {
		if live, err := exists(ctx, r.APIReader, &iamv1alpha1.Organization{}, m.Spec.Organization); err != nil || live {
			return live, err
		}
	}
	return false, nil
}

// exists reports whether the cluster-scoped object name exists and is not being deleted.
func exists(ctx context.Context, c client.Reader, obj client.Object, name string) (bool, error) {
	if err := c.Get(ctx, client.ObjectKey{Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("getting %T %q: %w", obj, name, err)
	}
	return obj.GetDeletionTimestamp() == nil, nil
}

// SetupWithManager registers the Membership controller. User and
// Organization events that change whether they exist reach their memberships.
func (r *MembershipReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("membership").
		For(&iamv1alpha1.Membership{}).
		Watches(&iamv1alpha1.User{}, handler.EnqueueRequestsFromMapFunc(r.membershipsBy(indexMembershipUser)),
			builder.WithPredicates(existenceChanged)).
		Watches(&iamv1alpha1.Organization{}, handler.EnqueueRequestsFromMapFunc(r.membershipsBy(indexMembershipOrganization)),
			builder.WithPredicates(existenceChanged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles}).
		Complete(r)
}

// membershipsBy maps a User or an Organization to its memberships through index.
func (r *MembershipReconciler) membershipsBy(index string) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		var memberships iamv1alpha1.MembershipList
		if err := r.List(ctx, &memberships, client.MatchingFields{index: obj.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing memberships", "object", klog.KObj(obj))
			return nil
		}
		names := make([]string, 0, len(memberships.Items))
		for i := range memberships.Items {
			names = append(names, memberships.Items[i].Name)
		}
		return requestsFor(names...)
	}
}
