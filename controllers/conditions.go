package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// Condition reasons. Users and tools match on them, so they are part of the API.
const (
	// ReasonReady: the object is consistent and fully reconciled.
	ReasonReady = "Ready"
	// ReasonProgressing: the controller is still working on the object.
	ReasonProgressing = "Progressing"

	// ReasonUsernameConflict: an older User already uses this user's username.
	ReasonUsernameConflict = "UsernameConflict"
	// ReasonIdentityConflict: an older User already claims one of this user's identities.
	ReasonIdentityConflict = "IdentityConflict"

	// ReasonUserNotFound: the Membership's user does not exist.
	ReasonUserNotFound = "UserNotFound"
	// ReasonOrganizationNotFound: the Membership's organization does not exist.
	ReasonOrganizationNotFound = "OrganizationNotFound"

	// ReasonOwnerNotFound: the Organization's spec.owner names no User.
	ReasonOwnerNotFound = "OwnerNotFound"
	// ReasonOwnerRoleMismatch: the owner's Membership holds another role than owner.
	ReasonOwnerRoleMismatch = "OwnerRoleMismatch"
	// ReasonOwnerMembershipPending: the owner's Membership is a pending invitation.
	ReasonOwnerMembershipPending = "OwnerMembershipPending"
	// ReasonOwnerMembershipCreated: the controller created the owner's Membership.
	ReasonOwnerMembershipCreated = "OwnerMembershipCreated"

	// ReasonCleanupFailed: the memberships of a deleted User or Organization could not be removed yet.
	ReasonCleanupFailed = "CleanupFailed"
	// ReasonCleanedUp: the memberships of a deleted User or Organization were removed.
	ReasonCleanedUp = "CleanedUp"

	// ReasonIDAllocationFailed: no numeric ID could be reserved yet.
	ReasonIDAllocationFailed = "IDAllocationFailed"
	// ReasonIDConflict: the ID recorded in the object's annotation belongs to another object.
	ReasonIDConflict = "IDConflict"
	// ReasonInvalidIDAnnotation: the object's ID annotation is not an integer
	// from 1 to MaxID; a person must correct or remove it.
	ReasonInvalidIDAnnotation = "InvalidIDAnnotation"
	// ReasonIDCounterInvalid: the ID counter ConfigMap holds a value that is
	// not an integer from 0 to MaxID; a person must correct it.
	ReasonIDCounterInvalid = "IDCounterInvalid"
	// ReasonIDsExhausted: every ID up to MaxID has been handed out.
	ReasonIDsExhausted = "IDsExhausted"
	// ReasonAPIError: a request to the API server failed; the controller retries.
	ReasonAPIError = "APIError"
)

// markReady sets Ready=True and clears Reconciling and Stalled.
func markReady(conds *[]metav1.Condition, generation int64, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{Type: iamv1alpha1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: ReasonReady, Message: message, ObservedGeneration: generation})
	meta.RemoveStatusCondition(conds, iamv1alpha1.ConditionReconciling)
	meta.RemoveStatusCondition(conds, iamv1alpha1.ConditionStalled)
}

// markStalled sets Ready=False and Stalled=True: a person must change something.
func markStalled(conds *[]metav1.Condition, generation int64, reason, message string) {
	markNotReady(conds, generation, reason, message, iamv1alpha1.ConditionStalled, iamv1alpha1.ConditionReconciling)
}

// markReconciling sets Ready=False and Reconciling=True: the controller keeps
// trying on its own.
func markReconciling(conds *[]metav1.Condition, generation int64, reason, message string) {
	markNotReady(conds, generation, reason, message, iamv1alpha1.ConditionReconciling, iamv1alpha1.ConditionStalled)
}

// markNotReady sets Ready=False and why=True with reason and message, and
// removes other, the one of Stalled and Reconciling that no longer holds.
func markNotReady(conds *[]metav1.Condition, generation int64, reason, message, why, other string) {
	meta.SetStatusCondition(conds, metav1.Condition{Type: iamv1alpha1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: reason, Message: message, ObservedGeneration: generation})
	meta.SetStatusCondition(conds, metav1.Condition{Type: why, Status: metav1.ConditionTrue,
		Reason: reason, Message: message, ObservedGeneration: generation})
	meta.RemoveStatusCondition(conds, other)
}

// readyReason is the reason of the Ready condition, or "" when there is none.
func readyReason(conds []metav1.Condition) string {
	if c := meta.FindStatusCondition(conds, iamv1alpha1.ConditionReady); c != nil {
		return c.Reason
	}
	return ""
}

// readyMessage is the message of the Ready condition, or "" when there is none.
func readyMessage(conds []metav1.Condition) string {
	if c := meta.FindStatusCondition(conds, iamv1alpha1.ConditionReady); c != nil {
		return c.Message
	}
	return ""
}
