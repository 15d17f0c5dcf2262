// Package server is Roster's aggregated API server for
// directory.roster.dev, split the sample-apiserver way: Options (flags) →
// Config → CompletedConfig → Server.
package server
