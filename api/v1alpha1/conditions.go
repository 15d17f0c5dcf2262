package v1alpha1

// Condition types shared by User, Organization and Membership. They follow the
// kstatus conventions, so Argo CD and Flux health checks understand them.
const (
	// ConditionReady is True when the object is consistent and fully reconciled.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the controller is still working on the object.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the controller cannot make progress without a change by a person.
	ConditionStalled = "Stalled"
)
