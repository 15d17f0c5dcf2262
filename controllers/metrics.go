package controllers

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/internal/version"
)

var (
	reconcileErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_reconcile_errors_total",
		Help: "Failed reconciles by controller and condition reason.",
	}, []string{"controller", "reason"})

	usersDesc = prometheus.NewDesc("roster_users",
		"Users by state (active or inactive) and readiness.", []string{"state", "ready"}, nil)
	organizationsDesc = prometheus.NewDesc("roster_organizations",
		"Organizations by readiness.", []string{"ready"}, nil)
	membershipsDesc = prometheus.NewDesc("roster_memberships",
		"Memberships by state (active or pending), role and readiness.", []string{"state", "role", "ready"}, nil)

	registerOnce sync.Once
	// inventory is the registered collector. It reads the cache of the
	// manager that started last and is still running (tests run several).
	inventory = &inventoryCollector{}
)

// countReconcileError counts *err, if any, under its reason.
func countReconcileError(controller string, err *error) {
	if *err != nil {
		reconcileErrors.WithLabelValues(controller, errorReason(*err)).Inc()
	}
}

// inventoryCollector computes the object gauges from the cache on every
// scrape, so they cost nothing between scrapes and are never stale.
type inventoryCollector struct {
	mu      sync.RWMutex
	readers []client.Reader
}

// registerMetrics registers the metrics once per process, and makes the
// gauges read mgr's cache while mgr is the leader. Only the leader reports
// them, so that summing over replicas does not count objects twice.
func registerMetrics(mgr manager.Manager) error {
	var err error
	registerOnce.Do(func() {
		err = errors.Join(metrics.Registry.Register(reconcileErrors), metrics.Registry.Register(inventory),
			metrics.Registry.Register(version.BuildInfo()))
	})
	if err != nil {
		return err
	}
	reader := mgr.GetCache()
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		inventory.mu.Lock()
		inventory.readers = append(inventory.readers, reader)
		inventory.mu.Unlock()
		<-ctx.Done()
		inventory.mu.Lock()
		inventory.readers = slices.DeleteFunc(inventory.readers, func(r client.Reader) bool { return r == reader })
		inventory.mu.Unlock()
		return nil
	}))
}

func (c *inventoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- usersDesc
	ch <- organizationsDesc
	ch <- membershipsDesc
}

func (c *inventoryCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	var reader client.Reader
	if len(c.readers) > 0 {
		reader = c.readers[len(c.readers)-1]
	}
	c.mu.RUnlock()
	if reader == nil {
		return
	}
	ctx := context.Background()

	var users iamv1alpha1.UserList
	if err := reader.List(ctx, &users, client.UnsafeDisableDeepCopy); err == nil {
		counts := map[[2]string]float64{}
		for i := range users.Items {
			u := &users.Items[i]
			state := "active"
			if !u.Active() {
				state = "inactive"
			}
			counts[[2]string{state, readyLabel(readyReason(u.Status.Conditions))}]++
		}
		for _, state := range []string{"active", "inactive"} {
			for _, ready := range []string{"true", "false"} {
				ch <- prometheus.MustNewConstMetric(usersDesc, prometheus.GaugeValue, counts[[2]string{state, ready}], state, ready)
			}
		}
	}

	var orgs iamv1alpha1.OrganizationList
	if err := reader.List(ctx, &orgs, client.UnsafeDisableDeepCopy); err == nil {
		counts := map[string]float64{}
		for i := range orgs.Items {
			counts[readyLabel(readyReason(orgs.Items[i].Status.Conditions))]++
		}
		for _, ready := range []string{"true", "false"} {
			ch <- prometheus.MustNewConstMetric(organizationsDesc, prometheus.GaugeValue, counts[ready], ready)
		}
	}

	var memberships iamv1alpha1.MembershipList
	if err := reader.List(ctx, &memberships, client.UnsafeDisableDeepCopy); err == nil {
		counts := map[[3]string]float64{}
		for i := range memberships.Items {
			m := &memberships.Items[i]
			state := string(iamv1alpha1.MembershipActive)
			if !m.Active() {
				state = string(iamv1alpha1.MembershipPending)
			}
			counts[[3]string{state, string(m.Spec.Role), readyLabel(readyReason(m.Status.Conditions))}]++
		}
		for _, state := range []iamv1alpha1.MembershipState{iamv1alpha1.MembershipActive, iamv1alpha1.MembershipPending} {
			for _, role := range []iamv1alpha1.MembershipRole{iamv1alpha1.RoleOwner, iamv1alpha1.RoleMaintainer, iamv1alpha1.RoleSupervisor, iamv1alpha1.RoleWorker} {
				for _, ready := range []string{"true", "false"} {
					ch <- prometheus.MustNewConstMetric(membershipsDesc, prometheus.GaugeValue,
						counts[[3]string{string(state), string(role), ready}], string(state), string(role), ready)
				}
			}
		}
	}
}

// readyLabel turns a Ready reason into the "ready" label.
func readyLabel(reason string) string {
	if reason == ReasonReady {
		return "true"
	}
	return "false"
}
