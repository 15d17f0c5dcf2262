// Package directory keeps the aggregated server's view of Roster: a cache of
// the iam.roster.dev CRDs, kept by reflectors in stores of its own, that
// feeds the query engine's index, the mapping from a Kubernetes identity to
// a caller, and the fan-out of changes to watchers. It never stores
// anything in etcd or on disk.
package directory
