// Package directory keeps the aggregated server's view of Roster: an informer
// cache of the iam.roster.dev CRDs that feeds the query engine's index, the
// mapping from a Kubernetes identity to a caller, and the fan-out of changes to
// watchers. It never stores anything of its own.
package directory
