// Package config holds Roster's kustomize manifests (CRDs, RBAC, the
// controllers' Deployment, samples). Its tests install them into a real
// kube-apiserver: every CRD validation rule, the samples and a server-side dry
// run of the rendered default overlay.
package config
