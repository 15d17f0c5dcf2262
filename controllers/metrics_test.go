package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// gauge returns the value of the metric family name whose labels include labels.
func gauge(g Gomega, name string, labels map[string]string) float64 {
	families, err := metrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.Metric {
			if matchLabels(m, labels) {
				if m.Gauge != nil {
					return m.Gauge.GetValue()
				}
				return m.Counter.GetValue()
			}
		}
	}
	g.Expect(false).To(BeTrue(), "metric %s%v not found", name, labels)
	return 0
}

func matchLabels(m *dto.Metric, labels map[string]string) bool {
	found := 0
	for _, l := range m.Label {
		if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
			found++
		}
	}
	return found == len(labels)
}

// Serial: the gauges are process-wide, so no other spec may run beside it.
var _ = Describe("Metrics", Serial, func() {
	It("counts users, organizations and memberships by state and role from the cache", func() {
		org, user := uniq("o"), uniq("u")
		before := map[string]float64{}
		Eventually(func(g Gomega) {
			before["users"] = gauge(g, "roster_users", map[string]string{"state": "inactive", "ready": "true"})
			before["pending"] = gauge(g, "roster_memberships", map[string]string{"state": "pending", "role": "supervisor", "ready": "true"})
			before["orgs"] = gauge(g, "roster_organizations", map[string]string{"ready": "true"})
		}).Should(Succeed())

		u := newUser(user)
		u.Spec.IsActive = new(false)
		Expect(k8sClient.Create(suiteCtx, u)).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newOrg(org, ""))).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newMembership(org, user, iamv1alpha1.RoleSupervisor, iamv1alpha1.MembershipPending))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(gauge(g, "roster_users", map[string]string{"state": "inactive", "ready": "true"})).To(Equal(before["users"] + 1))
			g.Expect(gauge(g, "roster_memberships", map[string]string{"state": "pending", "role": "supervisor", "ready": "true"})).
				To(Equal(before["pending"] + 1))
			g.Expect(gauge(g, "roster_organizations", map[string]string{"ready": "true"})).To(Equal(before["orgs"] + 1))
		}).Should(Succeed())
	})
})
