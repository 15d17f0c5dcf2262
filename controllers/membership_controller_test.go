package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

var _ = Describe("Membership controller", func() {
	It("is not Ready with UserNotFound until its user exists, then Ready with joinedDate", func() {
		org, user := uniq("o"), uniq("u")
		Expect(k8sClient.Create(suiteCtx, newOrg(org, ""))).To(Succeed())
		m := newMembership(org, user, iamv1alpha1.RoleWorker, "")
		Expect(k8sClient.Create(suiteCtx, m)).To(Succeed())

		By("reporting the missing user")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(m.Name), m)).To(Succeed())
			expectStalled(g, m.Status.Conditions, ReasonUserNotFound, `User "`+user+`" does not exist`)
			g.Expect(m.Status.JoinedDate).To(BeNil())
			g.Expect(kstatus(g, m)).To(Equal(status.FailedStatus))
		}).Should(Succeed())

		By("becoming Ready once the user is created, joined when the controller saw the user")
		u := newUser(user)
		Expect(k8sClient.Create(suiteCtx, u)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(m.Name), m)).To(Succeed())
			expectReady(g, m.Status.Conditions, m.Generation, m.Status.ObservedGeneration)
			g.Expect(condition(g, m.Status.Conditions, iamv1alpha1.ConditionReady).Message).To(Equal("Membership is active"))
			g.Expect(m.Status.JoinedDate).NotTo(BeNil())
			// Not its creation: it came in force only once its user existed.
			g.Expect(m.Status.JoinedDate.Time).NotTo(BeTemporally("<", u.CreationTimestamp.Time))
			g.Expect(kstatus(g, m)).To(Equal(status.CurrentStatus))
		}).Should(Succeed())
	})

	It("gives a membership in force the first time the controller sees it its creationTimestamp as joinedDate", func() {
		org, user := uniq("o"), uniq("u")
		Expect(k8sClient.Create(suiteCtx, newOrg(org, ""))).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newUser(user))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(user), &iamv1alpha1.User{})).To(Succeed())
			o := &iamv1alpha1.Organization{}
			g.Expect(k8sClient.Get(suiteCtx, key(org), o)).To(Succeed())
			g.Expect(o.Status.ID).To(BeNumerically(">", 0), "the controllers have seen the organization")
		}).Should(Succeed())
		m := newMembership(org, user, iamv1alpha1.RoleWorker, "")
		Expect(k8sClient.Create(suiteCtx, m)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(m.Name), m)).To(Succeed())
			g.Expect(m.Status.JoinedDate).NotTo(BeNil())
			g.Expect(m.Status.JoinedDate.Equal(&m.CreationTimestamp)).To(BeTrue(), "joinedDate %v, created %v", m.Status.JoinedDate, m.CreationTimestamp)
		}).Should(Succeed())
	})

	It("names both the missing user and the missing organization", func() {
		org, user := uniq("o"), uniq("u")
		m := newMembership(org, user, iamv1alpha1.RoleMaintainer, iamv1alpha1.MembershipActive)
		Expect(k8sClient.Create(suiteCtx, m)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(m.Name), m)).To(Succeed())
			expectStalled(g, m.Status.Conditions, ReasonUserNotFound,
				`User "`+user+`" does not exist; Organization "`+org+`" does not exist`)
		}).Should(Succeed())

		Expect(k8sClient.Create(suiteCtx, newUser(user))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(m.Name), m)).To(Succeed())
			expectStalled(g, m.Status.Conditions, ReasonOrganizationNotFound, `Organization "`+org+`" does not exist`)
			g.Expect(kstatus(g, m)).To(Equal(status.FailedStatus))
		}).Should(Succeed())

		Expect(k8sClient.Create(suiteCtx, newOrg(org, ""))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(m.Name), m)).To(Succeed())
			expectReady(g, m.Status.Conditions, m.Generation, m.Status.ObservedGeneration)
		}).Should(Succeed())
	})

	It("sets joinedDate when an invitation is accepted and keeps it afterwards", func() {
		org, user := uniq("o"), uniq("u")
		Expect(k8sClient.Create(suiteCtx, newOrg(org, ""))).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newUser(user))).To(Succeed())
		m := newMembership(org, user, iamv1alpha1.RoleSupervisor, iamv1alpha1.MembershipPending)
		Expect(k8sClient.Create(suiteCtx, m)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(m.Name), m)).To(Succeed())
			expectReady(g, m.Status.Conditions, m.Generation, m.Status.ObservedGeneration)
			g.Expect(condition(g, m.Status.Conditions, iamv1alpha1.ConditionReady).Message).To(Equal("Invitation is pending"))
			g.Expect(m.Status.JoinedDate).To(BeNil())
		}).Should(Succeed())

		m.Spec.State = iamv1alpha1.MembershipActive
		Expect(k8sClient.Update(suiteCtx, m)).To(Succeed())
		var joined metav1.Time
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(m.Name), m)).To(Succeed())
			expectReady(g, m.Status.Conditions, m.Generation, m.Status.ObservedGeneration)
			g.Expect(m.Status.JoinedDate).NotTo(BeNil())
			joined = *m.Status.JoinedDate
		}).Should(Succeed())

		m.Spec.State = iamv1alpha1.MembershipPending
		Expect(k8sClient.Update(suiteCtx, m)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(m.Name), m)).To(Succeed())
			g.Expect(m.Status.ObservedGeneration).To(Equal(m.Generation))
			g.Expect(m.Status.JoinedDate).NotTo(BeNil())
			g.Expect(m.Status.JoinedDate.Equal(&joined)).To(BeTrue())
		}).Should(Succeed())
	})
})
