package controllers

import (
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

var _ = Describe("User controller", func() {
	It("reports ID, dateJoined, organizations from active memberships and Ready", func() {
		user := uniq("u")
		orgA, orgB, orgC := uniq("oa"), uniq("ob"), uniq("oc")
		for _, o := range []string{orgA, orgB, orgC} {
			Expect(k8sClient.Create(suiteCtx, newOrg(o, ""))).To(Succeed())
		}
		u := newUser(user)
		u.Spec.Username = "name-of-" + user
		Expect(k8sClient.Create(suiteCtx, u)).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newMembership(orgB, user, iamv1alpha1.RoleMaintainer, iamv1alpha1.MembershipActive))).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newMembership(orgA, user, iamv1alpha1.RoleWorker, ""))).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newMembership(orgC, user, iamv1alpha1.RoleOwner, iamv1alpha1.MembershipPending))).To(Succeed())

		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(user), u)).To(Succeed())
			expectReady(g, u.Status.Conditions, u.Generation, u.Status.ObservedGeneration)
			g.Expect(condition(g, u.Status.Conditions, iamv1alpha1.ConditionReady).Message).To(Equal("User is ready"))
			g.Expect(u.Status.ID).To(BeNumerically(">", 0))
			g.Expect(u.Annotations).To(HaveKeyWithValue(AnnotationID, strconv.FormatInt(u.Status.ID, 10)))
			g.Expect(controllerutil.ContainsFinalizer(u, FinalizerCleanup)).To(BeTrue())
			g.Expect(u.Status.DateJoined).NotTo(BeNil())
			g.Expect(u.Status.DateJoined.Equal(&u.CreationTimestamp)).To(BeTrue())
			g.Expect(u.Status.Username).To(Equal("name-of-" + user))
			g.Expect(u.Status.Organizations).To(Equal([]iamv1alpha1.UserOrganization{
				{Organization: orgA, Role: iamv1alpha1.RoleWorker},
				{Organization: orgB, Role: iamv1alpha1.RoleMaintainer},
			}))
			g.Expect(kstatus(g, u)).To(Equal(status.CurrentStatus))
		}).Should(Succeed())

		By("reporting the name as the username once spec.username is removed")
		u.Spec.Username = ""
		Expect(k8sClient.Update(suiteCtx, u)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(user), u)).To(Succeed())
			g.Expect(u.Status.Username).To(Equal(user))
			g.Expect(u.Status.ObservedGeneration).To(Equal(u.Generation))
		}).Should(Succeed())

		By("dropping an organization from status when it is deleted")
		Expect(k8sClient.Delete(suiteCtx, newOrg(orgB, ""))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(user), u)).To(Succeed())
			g.Expect(u.Status.Organizations).To(Equal([]iamv1alpha1.UserOrganization{
				{Organization: orgA, Role: iamv1alpha1.RoleWorker},
			}))
		}).Should(Succeed())

		By("listing an invitation once it is accepted")
		m := &iamv1alpha1.Membership{}
		Expect(k8sClient.Get(suiteCtx, key(iamv1alpha1.MembershipName(orgC, user)), m)).To(Succeed())
		m.Spec.State = iamv1alpha1.MembershipActive
		Expect(k8sClient.Update(suiteCtx, m)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(user), u)).To(Succeed())
			g.Expect(u.Status.Organizations).To(Equal([]iamv1alpha1.UserOrganization{
				{Organization: orgA, Role: iamv1alpha1.RoleWorker},
				{Organization: orgC, Role: iamv1alpha1.RoleOwner},
			}))
		}).Should(Succeed())
	})

	It("reports a username conflict on the later user until the earlier one is deleted", func() {
		first, second := uniq("u"), uniq("u")
		username := "shared-" + first
		u1 := newUser(first)
		u1.Spec.Username = username
		Expect(k8sClient.Create(suiteCtx, u1)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(first), u1)).To(Succeed())
			expectReady(g, u1.Status.Conditions, u1.Generation, u1.Status.ObservedGeneration)
		}).Should(Succeed())

		u2 := newUser(second)
		u2.Spec.Username = username
		Expect(k8sClient.Create(suiteCtx, u2)).To(Succeed())
		message := `username "` + username + `" is already used by User "` + first + `"`
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(second), u2)).To(Succeed())
			expectStalled(g, u2.Status.Conditions, ReasonUsernameConflict, message)
			g.Expect(u2.Status.ID).To(BeNumerically(">", 0))
			g.Expect(kstatus(g, u2)).To(Equal(status.FailedStatus))
			g.Expect(hasEvent(g, second, corev1.EventTypeWarning, ReasonUsernameConflict, message)).To(BeTrue())
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(first), u1)).To(Succeed())
			expectReady(g, u1.Status.Conditions, u1.Generation, u1.Status.ObservedGeneration)
		}, "1s").Should(Succeed())

		By("clearing the conflict when the earlier user is deleted")
		Expect(k8sClient.Delete(suiteCtx, u1)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(second), u2)).To(Succeed())
			expectReady(g, u2.Status.Conditions, u2.Generation, u2.Status.ObservedGeneration)
		}).Should(Succeed())
	})

	It("reports identity conflicts with another user's identity or username", func() {
		first, second, third := uniq("u"), uniq("u"), uniq("u")
		identity := "oidc:" + first + "@example.com"
		u1 := newUser(first)
		u1.Spec.Identities = []string{identity}
		Expect(k8sClient.Create(suiteCtx, u1)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(first), u1)).To(Succeed())
			expectReady(g, u1.Status.Conditions, u1.Generation, u1.Status.ObservedGeneration)
		}).Should(Succeed())

		u2 := newUser(second)
		u2.Spec.Identities = []string{identity}
		Expect(k8sClient.Create(suiteCtx, u2)).To(Succeed())
		u3 := newUser(third)
		u3.Spec.Identities = []string{first}
		Expect(k8sClient.Create(suiteCtx, u3)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(second), u2)).To(Succeed())
			expectStalled(g, u2.Status.Conditions, ReasonIdentityConflict,
				`identity "`+identity+`" is already an identity of User "`+first+`"`)
			g.Expect(k8sClient.Get(suiteCtx, key(third), u3)).To(Succeed())
			expectStalled(g, u3.Status.Conditions, ReasonIdentityConflict,
				`identity "`+first+`" is already the username of User "`+first+`"`)
		}).Should(Succeed())

		By("clearing the conflict when the identity is removed from the earlier user")
		Expect(k8sClient.Get(suiteCtx, key(first), u1)).To(Succeed())
		u1.Spec.Identities = nil
		Expect(k8sClient.Update(suiteCtx, u1)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(second), u2)).To(Succeed())
			expectReady(g, u2.Status.Conditions, u2.Generation, u2.Status.ObservedGeneration)
		}).Should(Succeed())
	})

	It("deletes the memberships of a deleted user and updates its organizations' counts", func() {
		user, other := uniq("u"), uniq("u")
		orgs := []string{uniq("o"), uniq("o"), uniq("o")}
		Expect(k8sClient.Create(suiteCtx, newUser(user))).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newUser(other))).To(Succeed())
		for _, o := range orgs {
			Expect(k8sClient.Create(suiteCtx, newOrg(o, ""))).To(Succeed())
			Expect(k8sClient.Create(suiteCtx, newMembership(o, user, iamv1alpha1.RoleMaintainer, ""))).To(Succeed())
			Expect(k8sClient.Create(suiteCtx, newMembership(o, other, iamv1alpha1.RoleWorker, ""))).To(Succeed())
		}
		Eventually(func(g Gomega) {
			for _, o := range orgs {
				org := &iamv1alpha1.Organization{}
				g.Expect(k8sClient.Get(suiteCtx, key(o), org)).To(Succeed())
				g.Expect(org.Status.Members.Active).To(Equal(iamv1alpha1.RoleCounts{Maintainer: 1, Worker: 1, Total: 2}))
			}
			u := &iamv1alpha1.User{}
			g.Expect(k8sClient.Get(suiteCtx, key(user), u)).To(Succeed())
			g.Expect(u.Status.Organizations).To(HaveLen(3))
		}).Should(Succeed())

		Expect(k8sClient.Delete(suiteCtx, newUser(user))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(user), &iamv1alpha1.User{})).To(MatchError(ContainSubstring("not found")))
			var list iamv1alpha1.MembershipList
			g.Expect(k8sClient.List(suiteCtx, &list)).To(Succeed())
			for _, m := range list.Items {
				g.Expect(m.Spec.User).NotTo(Equal(user), "membership %s left behind", m.Name)
			}
			for _, o := range orgs {
				org := &iamv1alpha1.Organization{}
				g.Expect(k8sClient.Get(suiteCtx, key(o), org)).To(Succeed())
				g.Expect(org.Status.Members.Active).To(Equal(iamv1alpha1.RoleCounts{Worker: 1, Total: 1}))
			}
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(hasEvent(g, user, corev1.EventTypeNormal, ReasonCleanedUp, `Deleted 3 memberships of User "`+user+`"`)).To(BeTrue())
		}).Should(Succeed())
	})
})
