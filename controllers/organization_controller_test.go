package controllers

import (
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

var _ = Describe("Organization controller", func() {
	It("reports ID and member counts by state and role", func() {
		org := uniq("o")
		Expect(k8sClient.Create(suiteCtx, newOrg(org, ""))).To(Succeed())
		members := []struct {
			role  iamv1alpha1.MembershipRole
			state iamv1alpha1.MembershipState
		}{
			{iamv1alpha1.RoleOwner, ""}, {iamv1alpha1.RoleMaintainer, ""}, {iamv1alpha1.RoleMaintainer, iamv1alpha1.MembershipActive},
			{iamv1alpha1.RoleSupervisor, ""}, {iamv1alpha1.RoleWorker, ""},
			{iamv1alpha1.RoleWorker, iamv1alpha1.MembershipPending}, {iamv1alpha1.RoleMaintainer, iamv1alpha1.MembershipPending},
		}
		for _, m := range members {
			user := uniq("u")
			Expect(k8sClient.Create(suiteCtx, newUser(user))).To(Succeed())
			Expect(k8sClient.Create(suiteCtx, newMembership(org, user, m.role, m.state))).To(Succeed())
		}
		o := &iamv1alpha1.Organization{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(org), o)).To(Succeed())
			expectReady(g, o.Status.Conditions, o.Generation, o.Status.ObservedGeneration)
			g.Expect(o.Status.ID).To(BeNumerically(">", 0))
			g.Expect(o.Annotations).To(HaveKeyWithValue(AnnotationID, strconv.FormatInt(o.Status.ID, 10)))
			g.Expect(o.Status.Members).To(Equal(iamv1alpha1.OrganizationMembers{
				Active:  iamv1alpha1.RoleCounts{Owner: 1, Maintainer: 2, Supervisor: 1, Worker: 1, Total: 5},
				Pending: iamv1alpha1.RoleCounts{Maintainer: 1, Worker: 1, Total: 2},
			}))
			g.Expect(kstatus(g, o)).To(Equal(status.CurrentStatus))
		}).Should(Succeed())
	})

	It("creates the owner's membership, and reports a missing owner", func() {
		org, owner := uniq("o"), uniq("u")
		Expect(k8sClient.Create(suiteCtx, newOrg(org, owner))).To(Succeed())
		o := &iamv1alpha1.Organization{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(org), o)).To(Succeed())
			expectStalled(g, o.Status.Conditions, ReasonOwnerNotFound, `owner User "`+owner+`" does not exist`)
			g.Expect(kstatus(g, o)).To(Equal(status.FailedStatus))
			g.Expect(hasEvent(g, org, corev1.EventTypeWarning, ReasonOwnerNotFound, `owner User "`+owner+`" does not exist`)).To(BeTrue())
		}).Should(Succeed())

		Expect(k8sClient.Create(suiteCtx, newUser(owner))).To(Succeed())
		Eventually(func(g Gomega) {
			m := &iamv1alpha1.Membership{}
			g.Expect(k8sClient.Get(suiteCtx, key(iamv1alpha1.MembershipName(org, owner)), m)).To(Succeed())
			g.Expect(m.Spec).To(Equal(iamv1alpha1.MembershipSpec{Organization: org, User: owner,
				Role: iamv1alpha1.RoleOwner, State: iamv1alpha1.MembershipActive}))
			g.Expect(k8sClient.Get(suiteCtx, key(org), o)).To(Succeed())
			expectReady(g, o.Status.Conditions, o.Generation, o.Status.ObservedGeneration)
			g.Expect(o.Status.Members.Active).To(Equal(iamv1alpha1.RoleCounts{Owner: 1, Total: 1}))
			g.Expect(hasEvent(g, org, corev1.EventTypeNormal, ReasonOwnerMembershipCreated,
				`Created Membership "`+iamv1alpha1.MembershipName(org, owner)+`" making User "`+owner+`" the owner`)).To(BeTrue())
		}).Should(Succeed())
	})

	It("reports, and does not overwrite, an owner membership with another role", func() {
		org, owner := uniq("o"), uniq("u")
		Expect(k8sClient.Create(suiteCtx, newUser(owner))).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newMembership(org, owner, iamv1alpha1.RoleMaintainer, ""))).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newOrg(org, owner))).To(Succeed())
		name := iamv1alpha1.MembershipName(org, owner)
		o := &iamv1alpha1.Organization{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(org), o)).To(Succeed())
			expectStalled(g, o.Status.Conditions, ReasonOwnerRoleMismatch,
				`owner User "`+owner+`" holds the maintainer role in Membership "`+name+`", not owner`)
		}).Should(Succeed())
		m := &iamv1alpha1.Membership{}
		Expect(k8sClient.Get(suiteCtx, key(name), m)).To(Succeed())
		Expect(m.Spec.Role).To(Equal(iamv1alpha1.RoleMaintainer))

		By("becoming Ready once a person makes the membership an owner one")
		m.Spec.Role = iamv1alpha1.RoleOwner
		m.Spec.State = iamv1alpha1.MembershipPending
		Expect(k8sClient.Update(suiteCtx, m)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(org), o)).To(Succeed())
			expectStalled(g, o.Status.Conditions, ReasonOwnerMembershipPending,
				`owner User "`+owner+`" has only a pending invitation in Membership "`+name+`"`)
		}).Should(Succeed())
		Expect(k8sClient.Get(suiteCtx, key(name), m)).To(Succeed())
		m.Spec.State = iamv1alpha1.MembershipActive
		Expect(k8sClient.Update(suiteCtx, m)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(org), o)).To(Succeed())
			expectReady(g, o.Status.Conditions, o.Generation, o.Status.ObservedGeneration)
		}).Should(Succeed())
	})

	It("deletes its memberships when deleted and leaves its members' status", func() {
		org, user := uniq("o"), uniq("u")
		Expect(k8sClient.Create(suiteCtx, newOrg(org, ""))).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newUser(user))).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newMembership(org, user, iamv1alpha1.RoleWorker, ""))).To(Succeed())
		u := &iamv1alpha1.User{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(user), u)).To(Succeed())
			g.Expect(u.Status.Organizations).To(HaveLen(1))
		}).Should(Succeed())

		Expect(k8sClient.Delete(suiteCtx, newOrg(org, ""))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(org), &iamv1alpha1.Organization{})).To(MatchError(ContainSubstring("not found")))
			g.Expect(k8sClient.Get(suiteCtx, key(iamv1alpha1.MembershipName(org, user)), &iamv1alpha1.Membership{})).
				To(MatchError(ContainSubstring("not found")))
			g.Expect(k8sClient.Get(suiteCtx, key(user), u)).To(Succeed())
			g.Expect(u.Status.Organizations).To(BeEmpty())
		}).Should(Succeed())
	})

	It("keeps retrying a cleanup that fails and says why, without wedging", func() {
		org, user := uniq("o"), uniq("u")
		Expect(k8sClient.Create(suiteCtx, newOrg(org, ""))).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newUser(user))).To(Succeed())
		mName := iamv1alpha1.MembershipName(org, user)
		Expect(k8sClient.Create(suiteCtx, newMembership(org, user, iamv1alpha1.RoleWorker, ""))).To(Succeed())
		Eventually(func(g Gomega) {
			o := &iamv1alpha1.Organization{}
			g.Expect(k8sClient.Get(suiteCtx, key(org), o)).To(Succeed())
			g.Expect(o.Finalizers).To(ContainElement(FinalizerCleanup))
		}).Should(Succeed())

		By("denying the membership's deletion with an admission policy")
		policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "deny-" + org},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
				FailurePolicy: ptr.To(admissionregistrationv1.Fail),
				MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Delete},
						Rule: admissionregistrationv1.Rule{APIGroups: []string{"iam.roster.dev"}, APIVersions: []string{"*"},
							Resources: []string{"memberships"}},
					},
				}}},
				Validations: []admissionregistrationv1.Validation{{
					Expression: `oldObject.metadata.name != "` + mName + `"`,
					Message:    "memberships of " + org + " are protected",
				}},
			},
		}
		binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "deny-" + org},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName:        policy.Name,
				ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			},
		}
		Expect(k8sClient.Create(suiteCtx, policy)).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, binding)).To(Succeed())
		// The policy takes effect asynchronously: wait until it denies a dry-run delete.
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Delete(suiteCtx, newMembership(org, user, iamv1alpha1.RoleWorker, ""), client.DryRunAll)).
				To(MatchError(ContainSubstring("are protected")))
		}).Should(Succeed())

		Expect(k8sClient.Delete(suiteCtx, newOrg(org, ""))).To(Succeed())
		Eventually(func(g Gomega) {
			o := &iamv1alpha1.Organization{}
			g.Expect(k8sClient.Get(suiteCtx, key(org), o)).To(Succeed())
			ready := condition(g, o.Status.Conditions, iamv1alpha1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(ReasonCleanupFailed))
			g.Expect(ready.Message).To(And(
				HavePrefix(`removing the memberships of Organization "`+org+`": deleting Membership "`+mName+`"`),
				ContainSubstring("are protected")))
			g.Expect(condition(g, o.Status.Conditions, iamv1alpha1.ConditionReconciling).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(kstatus(g, o)).To(Equal(status.TerminatingStatus))
			var found bool
			for _, e := range eventsFor(g, org) {
				found = found || (e.Type == corev1.EventTypeWarning && e.Reason == ReasonCleanupFailed)
			}
			g.Expect(found).To(BeTrue())
			g.Expect(testutil.ToFloat64(reconcileErrors.WithLabelValues("organization", ReasonCleanupFailed))).To(BeNumerically(">=", 1))
		}).Should(Succeed())

		By("finishing the deletion once the membership can be deleted")
		Expect(k8sClient.Delete(suiteCtx, binding)).To(Succeed())
		Expect(k8sClient.Delete(suiteCtx, policy)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(org), &iamv1alpha1.Organization{})).To(MatchError(ContainSubstring("not found")))
			g.Expect(k8sClient.Get(suiteCtx, key(mName), &iamv1alpha1.Membership{})).To(MatchError(ContainSubstring("not found")))
		}, "60s").Should(Succeed())
	})
})
