package controllers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// FinalizerCleanup makes deleting a User or an Organization remove its
// memberships first, without relying on the garbage collector.
const FinalizerCleanup = "iam.roster.dev/cleanup"

// ensureIDAndFinalizer gives obj its numeric ID and the cleanup finalizer.
// The ID comes from status.id, else from the ID annotation (after a restore,
// unless another object holds that ID), else from the allocator. When the
// finalizer or the annotation is missing, both are written in one metadata
// patch, guarded by obj's resourceVersion so that an ID is only recorded on
// the version of the object it was chosen for; patched reports that write.
func ensureIDAndFinalizer(ctx context.Context, c client.Client, ids *idAllocator, rec recorder.EventRecorder,
	kind idKind, obj client.Object, statusID int64) (id int64, patched bool, err error) {
	id = statusID
	if id == 0 {
		restored, err := annotationID(obj)
		if err != nil {
			return 0, false, stalledError(ReasonInvalidIDAnnotation, err)
		}
		if restored > 0 {
			holder, err := idHeldByOther(ctx, c, kind, obj, restored)
			if err != nil {
				return 0, false, err
			}
			if holder == "" {
				if err := ids.EnsureAtLeast(ctx, kind, restored); err != nil {
					return 0, false, withReason(ReasonIDAllocationFailed, fmt.Errorf("raising the %s ID counter to %d: %w", kind.key, restored, err))
				}
				id = restored
			} else {
				rec.Eventf(obj, nil, corev1.EventTypeWarning, ReasonIDConflict, "AllocateID",
					"ID %d in annotation %s is already held by %q; allocating a new ID", restored, AnnotationID, holder)
			}
		}
		if id == 0 {
			if id, err = ids.Allocate(ctx, kind); err != nil {
				return 0, false, withReason(ReasonIDAllocationFailed, fmt.Errorf("allocating an ID: %w", err))
			}
		}
	}
	want := strconv.FormatInt(id, 10)
	if controllerutil.ContainsFinalizer(obj, FinalizerCleanup) && obj.GetAnnotations()[AnnotationID] == want {
		return id, false, nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.AddFinalizer(obj, FinalizerCleanup)
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationID] = want
	obj.SetAnnotations(annotations)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return 0, false, fmt.Errorf("adding the finalizer and ID annotation: %w", err)
	}
	return id, true, nil
}

// idHeldByOther names the object of kind, other than obj, that holds id: one
// whose status.id is id, or an older one (by creation time, then name) whose
// annotation records id while its status has none. "" when there is none.
func idHeldByOther(ctx context.Context, c client.Reader, kind idKind, obj client.Object, id int64) (string, error) {
	list := kind.newList()
	if err := c.List(ctx, list, client.MatchingFields{indexID: strconv.FormatInt(id, 10)}); err != nil {
		return "", fmt.Errorf("looking up ID %d: %w", id, err)
	}
	for _, other := range kind.holders(list) {
		if other.GetUID() == obj.GetUID() {
			continue
		}
		if other.statusID() == id || older(other, obj) {
			return other.GetName(), nil
		}
	}
	return "", nil
}

// older orders objects by creation time, then name: the first claim wins.
func older(a, b client.Object) bool {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	return a.GetName() < b.GetName()
}

// removeFinalizer drops the cleanup finalizer, guarded by resourceVersion so
// that a finalizer another party added meanwhile is never dropped with it.
func removeFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	if !controllerutil.ContainsFinalizer(obj, FinalizerCleanup) {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(obj, FinalizerCleanup)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("removing the finalizer: %w", err))
	}
	return nil
}

// cleanUpMemberships deletes the memberships that index finds under obj's
// name (obj is a User or an Organization, named kind in messages), then drops
// the cleanup finalizer. When a membership cannot be deleted it says why in
// an event (once: conditions show whether Ready already says so) and returns
// the error with reason CleanupFailed, so the queue retries with backoff.
func cleanUpMemberships(ctx context.Context, c client.Client, rec recorder.EventRecorder, obj client.Object,
	conditions []metav1.Condition, kind, index string) error {
	if !controllerutil.ContainsFinalizer(obj, FinalizerCleanup) {
		return nil
	}
	var memberships iamv1alpha1.MembershipList
	if err := c.List(ctx, &memberships, client.MatchingFields{index: obj.GetName()}); err != nil {
		return fmt.Errorf("listing memberships of %s %q: %w", kind, obj.GetName(), err)
	}
	deleted, err := deleteMemberships(ctx, c, &memberships)
	if err != nil {
		err = withReason(ReasonCleanupFailed, fmt.Errorf("removing the memberships of %s %q: %w", kind, obj.GetName(), err))
		if readyReason(conditions) != ReasonCleanupFailed {
			rec.Eventf(obj, nil, corev1.EventTypeWarning, ReasonCleanupFailed, "Cleanup", "%s", err.Error())
		}
		return err
	}
	if deleted > 0 {
		rec.Eventf(obj, nil, corev1.EventTypeNormal, ReasonCleanedUp, "Cleanup", "Deleted %d memberships of %s %q", deleted, kind, obj.GetName())
	}
	ctrl.LoggerFrom(ctx).V(4).Info("Removing the finalizer", strings.ToLower(kind), klog.KObj(obj), "deletedMemberships", deleted)
	return removeFinalizer(ctx, c, obj)
}

// deleteMemberships deletes the given memberships, tolerating ones already gone.
func deleteMemberships(ctx context.Context, c client.Client, list *iamv1alpha1.MembershipList) (deleted int, err error) {
	var errs []error
	for i := range list.Items {
		m := &list.Items[i]
		if m.DeletionTimestamp != nil {
			continue
		}
		if err := c.Delete(ctx, m, client.Preconditions{UID: &m.UID}); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("deleting Membership %q: %w", m.Name, err))
			continue
		}
		deleted++
	}
	return deleted, errors.Join(errs...)
}

// enqueueAfter is an event handler that maps an event to requests and adds
// them after delay. The queue keeps one entry per request, so every event in
// the delay window costs a single reconcile: bursts of membership changes end
// in one status write of the User or Organization they touch.
func enqueueAfter(delay time.Duration, fn handler.MapFunc) handler.EventHandler {
	add := func(ctx context.Context, obj client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		for _, req := range fn(ctx, obj) {
			if delay > 0 {
				q.AddAfter(req, delay)
			} else {
				q.Add(req)
			}
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.ObjectOld, q)
			add(ctx, e.ObjectNew, q)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
	}
}

// existenceChanged passes the events that change whether an object counts as
// existing: creation, deletion, and the start of a deletion (finalizers pending).
var existenceChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return (e.ObjectOld.GetDeletionTimestamp() == nil) != (e.ObjectNew.GetDeletionTimestamp() == nil)
	},
}

// specOrExistenceChanged passes creations, deletions, spec changes (a new
// generation) and the start of a deletion; status-only updates are dropped.
var specOrExistenceChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
			(e.ObjectOld.GetDeletionTimestamp() == nil) != (e.ObjectNew.GetDeletionTimestamp() == nil)
	},
}

// requestsFor turns names into reconcile requests for cluster-scoped objects.
func requestsFor(names ...string) []reconcile.Request {
	reqs := make([]reconcile.Request, 0, len(names))
	for _, n := range names {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: n}})
	}
	return reqs
}
