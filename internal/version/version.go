// Package version is the version of the roster binary, stamped at build time
// by the Makefile and the Dockerfile from `git describe`:
//
//	-ldflags "-X github.com/roster-dev/roster/internal/version.Version=v0.3.0 -X github.com/roster-dev/roster/internal/version.Commit=abc1234"
package version

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// Version and Commit describe the build; a build without -ldflags is a
// development build.
var (
	Version = "v0.0.0-dev"
	Commit  = "unknown"
)

// String is the version as `roster version` prints it.
func String() string { return Version + " (commit " + Commit + ")" }

// BuildInfo is the roster_build_info gauge: always 1, labelled with the
// version, the commit and the Go version, as Prometheus build-info metrics
// are. Both the controllers and the directory serve it.
func BuildInfo() prometheus.Collector {
	return buildInfo{prometheus.NewDesc("roster_build_info",
		"Roster's build: version and commit as `roster version` prints them, and the Go version. Always 1.",
		[]string{"version", "commit", "goversion"}, nil)}
}

type buildInfo struct{ desc *prometheus.Desc }

func (b buildInfo) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

func (b buildInfo) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, 1, Version, Commit, runtime.Version())
}
