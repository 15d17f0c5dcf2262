// Package plugin is `kubectl roster`, the kubectl plugin built into the
// roster binary: installed as kubectl-roster (`make install-plugin`), it
// lists the directory's users with its query parameters as flags (search,
// organization context, roles, field filters, sort, JSON Logic, page
// numbers) under a page footer, shows the caller's own record, and runs the
// organizations' memberships: members, invite, accept, decline, leave and
// set-role.
//
// It reaches the directory (directory.roster.dev/v1alpha1) through
// kube-apiserver with kubectl's client flags (--kubeconfig, --context, --as,
// --as-group, ...), prints -o json, yaml, name, jsonpath and go-template as
// kubectl does, and prints the server's refusals as kubectl prints them, with
// kubectl's exit code 1. docs/plugin.md is its reference.
package plugin
