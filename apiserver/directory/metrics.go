package directory

import (
	"sync/atomic"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"

	"github.com/roster-dev/roster/internal/version"
)

// The directory's own metrics, served on its /metrics beside the generic
// API server's (docs/directory.md lists them). A process runs one directory.
var (
	requestDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace: "roster",
		Subsystem: "directory",
		Name:      "request_duration_seconds",
		Help: "Time the directory's storage spends on a request to its resources, from the caller's resolution " +
			"to the answer's object (encoding excluded), by kind: page, search, org, jsonlogic, get, write, memberships.",
		Buckets:        []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
		StabilityLevel: metrics.ALPHA,
	}, []string{"kind"})
	indexObjects = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace:      "roster",
		Subsystem:      "directory",
		Name:           "index_objects",
		Help:           "Objects the directory's index holds, by kind (users, memberships).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"kind"})
	watchersOpen = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace:      "roster",
		Subsystem:      "directory",
		Name:           "watchers",
		Help:           "Watches open on the directory, by resource (users, memberships).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"resource"})
	watchersDropped = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "roster",
		Subsystem:      "directory",
		Name:           "watchers_dropped_total",
		Help:           "Watches ended with a 410 because they fell too far behind, by resource (users, memberships).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"resource"})
	// lastChange is when the index last applied a change (Unix nanoseconds).
	lastChange  atomic.Int64
	snapshotAge = metrics.NewGaugeFunc(&metrics.GaugeOpts{
		Namespace: "roster",
		Subsystem: "directory",
		Name:      "snapshot_age_seconds",
		Help: "Seconds since the directory's index last applied a change from the cache " +
			"(0 before the first): what every answer is at most this much older than.",
		StabilityLevel: metrics.ALPHA,
	}, func() float64 {
		if t := lastChange.Load(); t != 0 {
			return time.Since(time.Unix(0, t)).Seconds()
		}
		return 0
	})
	// lastLoginWrites counts the lastLogin writes.
	lastLoginWrites = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "roster",
		Subsystem:      "directory",
		Name:           "last_login_writes_total",
		Help:           "Writes of a User's status.lastLogin, by result (success, failure).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"result"})
)

func init() {
	legacyregistry.MustRegister(requestDuration, indexObjects, watchersOpen, watchersDropped, lastLoginWrites)
	legacyregistry.RawMustRegister(snapshotAge, version.BuildInfo())
}

// Request kinds of roster_directory_request_duration_seconds.
const (
	KindPage        = "page"
	KindSearch      = "search"
	KindOrg         = "org"
	KindJSONLogic   = "jsonlogic"
	KindGet         = "get"
	KindWrite       = "write"
	KindMemberships = "memberships"
)

// ObserveRequest records a request of kind that started at start:
//
//	defer directory.ObserveRequest(directory.KindGet, time.Now())
func ObserveRequest(kind string, start time.Time) {
	requestDuration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}

// observeIndex records the index's size after a change.
func (d *Directory) observeIndex() {
	lastChange.Store(time.Now().UnixNano())
	indexObjects.WithLabelValues("users").Set(float64(d.index.Users()))
	indexObjects.WithLabelValues("memberships").Set(float64(d.memberships.len()))
}
