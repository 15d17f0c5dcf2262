package controllers

import (
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// reasonError is an error with the condition reason it is reported under, in
// conditions, events and the roster_reconcile_errors_total metric.
type reasonError struct {
	reason string
	err    error
}

func (e *reasonError) Error() string { return e.err.Error() }
func (e *reasonError) Unwrap() error { return e.err }

// withReason tags err with a condition reason; nil stays nil.
func withReason(reason string, err error) error {
	if err == nil {
		return nil
	}
	return &reasonError{reason: reason, err: err}
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
