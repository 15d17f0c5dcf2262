// Package v1alpha1 is the directory.roster.dev/v1alpha1 API: the
// permission-aware view of Roster's users that the aggregated API server
// serves. Nothing is stored in this group; writes go through to the
// iam.roster.dev User CRD.
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=dev.roster.directory.v1alpha1
// +kubebuilder:object:generate=true
// +groupName=directory.roster.dev
package v1alpha1
