// Package local is `roster local`: a complete Roster on one machine (the
// control plane of package testenv, the controllers, the directory, the
// admission policies and the samples), with its data directory, the lock
// that keeps a second run off it, the cleanup of what a killed run left, and
// the guide it prints.
package local
