package controllers

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

// step is one ordered sub-step of a reconcile, the same signature for every
// kind: it updates the object's status in memory and returns done=true when
// the pass must stop early (after a metadata write, say).
type step[O client.Object] func(ctx context.Context, obj O) (done bool, err error)

// skeleton is the one reconcile body the three kinds share, in the manner of
// a deferred patch helper: fetch through the written-status cache, run the
// steps, and in a deferred function turn an error into conditions, emit the
// events a person should see, patch status once against the copy taken at
// the start, set observedGeneration only after a pass that succeeded, and
// count the error. Each kind supplies what differs.
type skeleton[O client.Object, S any] struct {
	// name labels the error metric: user, organization, membership.
	name    string
	client  client.Client
	written *writtenStatus[S]
	// status and conditions reach into the kind's object; copy deep-copies
	// a status, so that the cache's objects are never changed.
	status     func(O) *S
	copy       func(S) S
	conditions func(O) *[]metav1.Condition
	observe    func(O) // sets status.observedGeneration to metadata.generation
	// stalledRetry is how often a Stalled object is tried again (0: never).
	stalledRetry time.Duration
	// recorder and warn emit a Warning event when the Ready reason moves to
	// one warn accepts; nil warn emits none.
	recorder recorder.EventRecorder
	warn     func(reason string) bool
	// finalize runs instead of the steps while the object is being deleted.
	finalize func(ctx context.Context, obj O) error
	// hold, when set, may delay the status write of a pass that succeeded:
	// it returns how long, and restores what is held back in obj.
	hold func(obj, before O) time.Duration
	// written is called after a status write of a pass that succeeded.
	afterWrite func(obj O)
}

// reconcile runs one pass over the object req names, into obj (a new,
// empty object of the kind).
func (k *skeleton[O, S]) reconcile(ctx context.Context, req ctrl.Request, obj O, steps ...step[O]) (result ctrl.Result, retErr error) {
	if found, err := k.written.fetch(ctx, k.client, req, obj); !found {
		return ctrl.Result{}, err
	}
	if k.stalledRetry > 0 {
		defer settleStalled(k.stalledRetry, &result, &retErr)
	}
	defer countReconcileError(k.name, &retErr)
	*k.status(obj) = k.copy(k.written.basis(obj, *k.status(obj)))
	before := obj.DeepCopyObject().(O)
	defer func() {
		if apierrors.IsConflict(retErr) {
			// A newer version is on its way through the watch and brings us back.
			retErr = nil
			return
		}
		conds := k.conditions(obj)
		if retErr != nil {
			markFailed(conds, obj.GetGeneration(), retErr)
		}
		if reason := readyReason(*conds); k.warn != nil && reason != readyReason(*k.conditions(before)) && k.warn(reason) {
			k.recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "Reconcile", "%s", readyMessage(*conds))
		}
		if k.hold != nil && retErr == nil {
			if wait := k.hold(obj, before); wait > 0 {
				result = ctrl.Result{RequeueAfter: wait}
				return
			}
		}
		if err := k.written.patch(ctx, k.client, obj, before, k.copy(*k.status(obj)), *k.status(before)); err != nil {
			retErr = errors.Join(retErr, err)
			return
		}
		if retErr == nil && k.afterWrite != nil {
			k.afterWrite(obj)
		}
	}()

	if obj.GetDeletionTimestamp() != nil {
		if k.finalize == nil {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, k.finalize(ctx, obj)
	}
	for _, s := range steps {
		if done, err := s(ctx, obj); err != nil || done {
			return ctrl.Result{}, err
		}
	}
	k.observe(obj)
	return ctrl.Result{}, nil
}
