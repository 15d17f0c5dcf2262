package controllers

import (
	"errors"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// reasonError is an error with the condition reason it is reported under, in
// conditions, events and the roster_reconcile_errors_total metric.
type reasonError struct {
	reason string
	err    error
	// stalled marks an error retrying cannot cure: a person must change
	// something (kstatus Stalled).
	stalled bool
}

func (e *reasonError) Error() string { return e.err.Error() }
func (e *reasonError) Unwrap() error { return e.err }

// withReason tags err with a condition reason; nil stays nil. A stalled
// cause keeps its own, more precise reason.
func withReason(reason string, err error) error {
	if err == nil {
		return nil
	}
	var re *reasonError
	if errors.As(err, &re) && re.stalled {
		return &reasonError{reason: re.reason, err: err, stalled: true}
	}
	return &reasonError{reason: reason, err: err}
}

// stalledError tags err with a condition reason and marks it as one that a
// person must fix: the object is reported Stalled, not Reconciling.
func stalledError(reason string, err error) error {
	return &reasonError{reason: reason, err: err, stalled: true}
}

// isStalled reports whether err was tagged by stalledError.
func isStalled(err error) bool {
	var re *reasonError
	return errors.As(err, &re) && re.stalled
}

// errorReason is the reason err was tagged with, or a generic one.
func errorReason(err error) string {
	var re *reasonError
	if errors.As(err, &re) {
		return re.reason
	}
	if apierrors.IsConflict(err) {
		return "Conflict"
	}
	return ReasonAPIError
}

// idProblem reports a stalled reason of the ID allocation, worth an event.
func idProblem(reason string) bool {
	return reason == ReasonInvalidIDAnnotation || reason == ReasonIDCounterInvalid || reason == ReasonIDsExhausted
}

// markFailed records a failed pass in conds: Stalled when a person must fix
// the cause, Reconciling when a retry may cure it.
func markFailed(conds *[]metav1.Condition, generation int64, err error) {
	if isStalled(err) {
		markStalled(conds, generation, errorReason(err), err.Error())
		return
	}
	markReconciling(conds, generation, errorReason(err), err.Error())
}

// settleStalled turns a stalled pass into a slow retry instead of an error
// retried with backoff: the object stays Stalled, costs one read per retry,
// and recovers on its own once a person fixed the cause (the counter
// ConfigMap, say, which the controllers do not watch). Deferred first, so
// that the error metric still counts the error.
func settleStalled(retry time.Duration, result *ctrl.Result, err *error) {
	if *err != nil && isStalled(*err) {
		*err = nil
		*result = ctrl.Result{RequeueAfter: retry}
	}
}
