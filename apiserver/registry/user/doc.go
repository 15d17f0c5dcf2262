// Package user is the REST storage of the directory's users resource: list,
// get, watch, patch, create and delete, answered from the directory's cache
// and written through to the iam.roster.dev User CRD after the permission
// checks of the users API contract.
package user
