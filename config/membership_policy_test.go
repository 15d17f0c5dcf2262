package config_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

const membershipPolicy = "roster-membership-rules"

// membershipDenied asserts that err is the membership policy's denial.
func membershipDenied(err error, message string) {
	GinkgoHelper()
	Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want 403 Forbidden, got %v", err)
	Expect(err.Error()).To(ContainSubstring(fmt.Sprintf(
		"ValidatingAdmissionPolicy '%s' with binding '%s' denied request: %s", membershipPolicy, membershipPolicy, message)))
}

var _ = Describe("Membership rules admission policy", Ordered, func() {
	var pat client.Client

	seatOf := func(org, user string, role iamv1alpha1.MembershipRole, state iamv1alpha1.MembershipState) *iamv1alpha1.Membership {
		m := &iamv1alpha1.Membership{
			ObjectMeta: metav1.ObjectMeta{Name: iamv1alpha1.MembershipName(org, user)},
			Spec:       iamv1alpha1.MembershipSpec{Organization: org, User: user, Role: role, State: state},
		}
		Expect(k8sClient.Create(ctx, m)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, m))).To(Succeed()) })
		return m
	}
	patch := func(c client.Client, name, body string) error {
		return c.Patch(ctx, &iamv1alpha1.Membership{ObjectMeta: metav1.ObjectMeta{Name: name}}, client.RawPatch(types.MergePatchType, []byte(body)))
	}

	BeforeAll(func() {
		role := &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "policy-test-membership-writer"},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{iamv1alpha1.GroupVersion.Group},
				Resources: []string{"memberships"},
				Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"},
			}},
		}
		Expect(k8sClient.Create(ctx, role)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, role))).To(Succeed()) })
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "policy-test-membership-writer"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: policyPat}},
		}
		Expect(k8sClient.Create(ctx, binding)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, binding))).To(Succeed()) })
		pat = policyClient(envtest.User{Name: policyPat})

		out, err := kubectl("apply", "-k", "policy")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("validatingadmissionpolicy.admissionregistration.k8s.io/" + membershipPolicy))
		DeferCleanup(func() {
			out, err := kubectl("delete", "-k", "policy", "--ignore-not-found")
			Expect(err).NotTo(HaveOccurred(), out)
		})
		Eventually(func(g Gomega) {
			err := pat.Create(ctx, &iamv1alpha1.Membership{
				ObjectMeta: metav1.ObjectMeta{Name: "probe.pat"},
				Spec:       iamv1alpha1.MembershipSpec{Organization: "probe", User: "pat", Role: iamv1alpha1.RoleWorker},
			}, client.DryRunAll)
			g.Expect(err).To(MatchError(ContainSubstring("only administrators may create memberships directly")))
		}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	})

	It("refuses a direct invitation, even to oneself", func() {
		err := pat.Create(ctx, &iamv1alpha1.Membership{
			ObjectMeta: metav1.ObjectMeta{Name: "mo.pat"},
			Spec:       iamv1alpha1.MembershipSpec{Organization: "mo", User: "pat", Role: iamv1alpha1.RoleOwner},
		})
		membershipDenied(err, "only administrators may create memberships directly; invite through the directory (memberships.directory.roster.dev)")
	})

	It("lets the invitee accept their own invitation, and nothing more", func() {
		m := seatOf("ma", "pat", iamv1alpha1.RoleWorker, iamv1alpha1.MembershipPending)
		membershipDenied(patch(pat, m.Name, `{"spec":{"state":"active","role":"maintainer"}}`),
			"a member may only accept their own invitation directly; change roles through the directory (memberships.directory.roster.dev)")
		Expect(patch(pat, m.Name, `{"spec":{"state":"active"}}`)).To(Succeed())
		membershipDenied(patch(pat, m.Name, `{"spec":{"state":"pending"}}`),
			"a member may only accept their own invitation directly; change roles through the directory (memberships.directory.roster.dev)")
	})

	It("refuses any change to someone else's membership", func() {
		m := seatOf("mb", "quinn", iamv1alpha1.RoleWorker, iamv1alpha1.MembershipPending)
		before := &iamv1alpha1.Membership{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: m.Name}, before)).To(Succeed())
		membershipDenied(patch(pat, m.Name, `{"spec":{"state":"active"}}`),
			"only administrators may change or delete someone else's membership directly; use the directory (memberships.directory.roster.dev)")
		membershipDenied(pat.Delete(ctx, m),
			"only administrators may change or delete someone else's membership directly; use the directory (memberships.directory.roster.dev)")
		after := &iamv1alpha1.Membership{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: m.Name}, after)).To(Succeed())
		Expect(after.ResourceVersion).To(Equal(before.ResourceVersion))
	})

	It("lets a member decline or leave, but not the owner", func() {
		invitation := seatOf("mc", "pat", iamv1alpha1.RoleWorker, iamv1alpha1.MembershipPending)
		Expect(pat.Delete(ctx, invitation)).To(Succeed())
		member := seatOf("md", "pat", iamv1alpha1.RoleMaintainer, iamv1alpha1.MembershipActive)
		Expect(pat.Delete(ctx, member)).To(Succeed())
		owner := seatOf("me", "pat", iamv1alpha1.RoleOwner, iamv1alpha1.MembershipActive)
		membershipDenied(pat.Delete(ctx, owner), "the owner may not leave the organization")
	})
})
