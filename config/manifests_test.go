package config_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

var _ = Describe("Manifests", func() {
	It("applies every sample, and kubectl get shows the printer columns", func() {
		out, err := kubectl("apply", "-f", "samples")
		Expect(err).NotTo(HaveOccurred(), out)
		DeferCleanup(func() {
			out, err := kubectl("delete", "-f", "samples", "--wait=false")
			Expect(err).NotTo(HaveOccurred(), out)
		})
		Expect(out).To(ContainSubstring("user.iam.roster.dev/admin created"))
		Expect(out).To(ContainSubstring("organization.iam.roster.dev/acme created"))
		Expect(out).To(ContainSubstring("membership.iam.roster.dev/acme.oscar created"))

		var users iamv1alpha1.UserList
		Expect(k8sClient.List(ctx, &users)).To(Succeed())
		Expect(users.Items).To(HaveLen(16))
		var orgs iamv1alpha1.OrganizationList
		Expect(k8sClient.List(ctx, &orgs)).To(Succeed())
		Expect(orgs.Items).To(HaveLen(2))
		var memberships iamv1alpha1.MembershipList
		Expect(k8sClient.List(ctx, &memberships)).To(Succeed())
		Expect(memberships.Items).To(HaveLen(14))
		pending := 0
		for _, m := range memberships.Items {
			if !m.Active() {
				pending++
			}
		}
		Expect(pending).To(Equal(1))

		out, err = kubectl("get", "users")
		Expect(err).NotTo(HaveOccurred(), out)
		header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
		Expect(header).To(Equal([]string{"NAME", "USERNAME", "EMAIL", "ACTIVE", "STAFF", "SUPERUSER", "ID", "READY", "AGE"}))
		// USERNAME is status.username, which the controller writes; no
		// controller runs in this suite, so the column is empty.
		Expect(out).To(MatchRegexp(`(?m)^ivan\s+ivan\.petrov@example\.com\s+false\s`))
		Expect(out).To(MatchRegexp(`(?m)^natalia\s+natalia\.rossi@example\.com\s+true\s`))

		out, err = kubectl("get", "organizations")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.Fields(strings.SplitN(out, "\n", 2)[0])).To(Equal(
			[]string{"NAME", "DISPLAY", "NAME", "OWNER", "ID", "MEMBERS", "PENDING", "READY", "AGE"}))
		Expect(out).To(MatchRegexp(`(?m)^acme\s+Acme Annotation\s+alice\s`))

		out, err = kubectl("get", "memberships")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.Fields(strings.SplitN(out, "\n", 2)[0])).To(Equal(
			[]string{"NAME", "ORGANIZATION", "USER", "ROLE", "STATE", "READY", "AGE"}))
		Expect(out).To(MatchRegexp(`(?m)^acme\.oscar\s+acme\s+oscar\s+worker\s+pending\s`))

		By("reaching all three kinds through the roster category and the short names")
		out, err = kubectl("get", "roster", "-o", "name")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.Count(out, "\n")).To(Equal(16 + 2 + 14))
		for _, short := range []string{"usr", "org", "mbr"} {
			out, err = kubectl("get", short, "-o", "name")
			Expect(err).NotTo(HaveOccurred(), out)
		}
	})

	It("renders config/default that the API server accepts in a server-side dry run", func() {
		rendered, err := kubectl("kustomize", "default")
		Expect(err).NotTo(HaveOccurred(), rendered)
		Expect(rendered).To(ContainSubstring("kind: Deployment"))
		Expect(rendered).To(ContainSubstring("namespace: roster-system"))

		out := serverDryRun("roster-system", rendered)
		for _, want := range []string{
			"customresourcedefinition.apiextensions.k8s.io/users.iam.roster.dev",
			"clusterrole.rbac.authorization.k8s.io/roster-controllers",
			"deployment.apps/roster-controllers",
			"deployment.apps/roster-directory",
			"service/roster-directory",
			"apiservice.apiregistration.k8s.io/v1alpha1.directory.roster.dev",
			"rolebinding.rbac.authorization.k8s.io/roster-directory-authentication-reader",
			"clusterrolebinding.rbac.authorization.k8s.io/roster-directory-user",
			"validatingadmissionpolicy.admissionregistration.k8s.io/roster-user-field-rules",
		} {
			Expect(out).To(ContainSubstring(want))
		}
	})
})
