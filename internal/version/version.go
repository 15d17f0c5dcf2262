// Package version is the version of the roster binary, stamped at build time
// by the Makefile and the Dockerfile from `git describe`:
//
//	-ldflags "-X github.com/roster-dev/roster/internal/version.Version=v0.3.0 -X github.com/roster-dev/roster/internal/version.Commit=abc1234"
package version

// Version and Commit describe the build; a build without -ldflags is a
// development build.
var (
	Version = "v0.0.0-dev"
	Commit  = "unknown"
)

// String is the version as `roster version` prints it.
func String() string { return Version + " (commit " + Commit + ")" }
