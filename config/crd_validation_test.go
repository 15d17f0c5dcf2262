package config_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

func user(name string, mutate func(*iamv1alpha1.User)) *iamv1alpha1.User {
	u := &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if mutate != nil {
		mutate(u)
	}
	return u
}

func organization(name string, mutate func(*iamv1alpha1.Organization)) *iamv1alpha1.Organization {
	o := &iamv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if mutate != nil {
		mutate(o)
	}
	return o
}

func membership(name, org, usr string, role iamv1alpha1.MembershipRole) *iamv1alpha1.Membership {
	return &iamv1alpha1.Membership{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       iamv1alpha1.MembershipSpec{Organization: org, User: usr, Role: role},
	}
}

// expectInvalid asserts that err is a 422 Invalid whose message contains every
// one of the given fragments.
func expectInvalid(err error, fragments ...string) {
	GinkgoHelper()
	Expect(err).To(HaveOccurred())
	Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422 Invalid, got %v", err)
	for _, f := range fragments {
		Expect(err.Error()).To(ContainSubstring(f))
	}
}

// createThenDelete creates obj with a server-side dry run, so a valid edge
// case leaves nothing behind.
func dryRunCreate(obj client.Object) error {
	return k8sClient.Create(ctx, obj, client.DryRunAll)
}

var _ = Describe("CRD validation", func() {
	DescribeTable("rejects a bad User with a message that names the problem",
		func(u *iamv1alpha1.User, fragments ...string) {
			expectInvalid(dryRunCreate(u), fragments...)
		},
		Entry("username with a space", user("u1", func(u *iamv1alpha1.User) { u.Spec.Username = "ali ce" }),
			`spec.username: Invalid value: "ali ce": username may contain only letters, digits and @ . + - _`),
		Entry("username with a slash", user("u2", func(u *iamv1alpha1.User) { u.Spec.Username = "a/b" }),
			"username may contain only letters, digits and @ . + - _"),
		Entry("username of 151 characters", user("u3", func(u *iamv1alpha1.User) { u.Spec.Username = strings.Repeat("a", 151) }),
			"spec.username: Too long: may not be more than 150 bytes"),
		Entry("first name of 151 characters", user("u4", func(u *iamv1alpha1.User) { u.Spec.FirstName = strings.Repeat("x", 151) }),
			"spec.firstName: Too long: may not be more than 150 bytes"),
		Entry("last name of 151 characters", user("u5", func(u *iamv1alpha1.User) { u.Spec.LastName = strings.Repeat("z", 151) }),
			"spec.lastName: Too long: may not be more than 150 bytes"),
		Entry("email without @", user("u6", func(u *iamv1alpha1.User) { u.Spec.Email = "alice.example.com" }),
			`spec.email: Invalid value: "alice.example.com": email must be a valid email address`),
		Entry("email without a domain dot", user("u7", func(u *iamv1alpha1.User) { u.Spec.Email = "alice@localhost" }),
			"email must be a valid email address"),
		Entry("email with a space", user("u8", func(u *iamv1alpha1.User) { u.Spec.Email = "al ice@example.com" }),
			"email must be a valid email address"),
		Entry("duplicate groups", user("u9", func(u *iamv1alpha1.User) { u.Spec.Groups = []string{"admin", "admin"} }),
			`spec.groups[1]: Duplicate value: "admin"`),
		Entry("empty group name", user("u10", func(u *iamv1alpha1.User) { u.Spec.Groups = []string{""} }),
			"spec.groups[0]: Invalid value: \"\": spec.groups[0] in body should be at least 1 chars long"),
		Entry("duplicate identities", user("u11", func(u *iamv1alpha1.User) { u.Spec.Identities = []string{"oidc:a", "oidc:a"} }),
			`spec.identities[1]: Duplicate value: "oidc:a"`),
		Entry("name that is no username, without spec.username", user(strings.Repeat("a", 151), nil),
			"metadata.name must be a valid username (at most 150 characters) when spec.username is omitted"),
	)

	DescribeTable("accepts the edge of a valid User",
		func(u *iamv1alpha1.User) {
			Expect(dryRunCreate(u)).To(Succeed())
		},
		Entry("every allowed username character", user("edge1", func(u *iamv1alpha1.User) { u.Spec.Username = "Al.i_ce+1@ex-ample" })),
		Entry("username of 150 characters", user("edge2", func(u *iamv1alpha1.User) { u.Spec.Username = strings.Repeat("a", 150) })),
		Entry("unicode names of 150 characters", user("edge3", func(u *iamv1alpha1.User) {
			u.Spec.FirstName = strings.Repeat("é", 150)
			u.Spec.LastName = strings.Repeat("b", 150)
		})),
		Entry("a plain email", user("edge4", func(u *iamv1alpha1.User) { u.Spec.Email = "a.b+c@mail.example.co.uk" })),
		Entry("a name of 150 characters without username", user(strings.Repeat("b", 150), nil)),
		Entry("a long name with an explicit username", user(strings.Repeat("c", 200), func(u *iamv1alpha1.User) { u.Spec.Username = "c" })),
	)

	It("defaults isActive to true and keeps an explicit false", func() {
		u := user("defaults", nil)
		Expect(dryRunCreate(u)).To(Succeed())
		Expect(u.Spec.IsActive).To(Equal(ptr.To(true)))

		inactive := user("inactive", func(u *iamv1alpha1.User) { u.Spec.IsActive = ptr.To(false) })
		Expect(dryRunCreate(inactive)).To(Succeed())
		Expect(inactive.Spec.IsActive).To(Equal(ptr.To(false)))
	})

	It("does not let a user's ID change once allocated", func() {
		u := user("id-holder", nil)
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, u)).To(Succeed()) })

		u.Status.ID = 7
		Expect(k8sClient.Status().Update(ctx, u)).To(Succeed())
		u.Status.ID = 8
		expectInvalid(k8sClient.Status().Update(ctx, u), "status: Invalid value: id cannot change once allocated")
		u.Status.ID = 0
		expectInvalid(k8sClient.Status().Update(ctx, u), "id cannot change once allocated")
	})

	DescribeTable("rejects a bad Organization with a message that names the problem",
		func(o *iamv1alpha1.Organization, fragments ...string) {
			expectInvalid(dryRunCreate(o), fragments...)
		},
		Entry("slug of 17 characters", organization(strings.Repeat("a", 17), nil),
			"metadata.name (the organization's slug) must be at most 16 characters"),
		Entry("slug with a dot", organization("acme.labs", nil),
			"metadata.name (the organization's slug) may contain only lowercase letters, digits and '-'"),
		Entry("display name of 65 characters", organization("acme", func(o *iamv1alpha1.Organization) { o.Spec.DisplayName = strings.Repeat("a", 65) }),
			"spec.displayName: Too long: may not be more than 64 bytes"),
		Entry("description of 1025 characters", organization("acme", func(o *iamv1alpha1.Organization) { o.Spec.Description = strings.Repeat("a", 1025) }),
			"spec.description: Too long: may not be more than 1024 bytes"),
		Entry("a bad contact email", organization("acme", func(o *iamv1alpha1.Organization) { o.Spec.Contact.Email = "nobody" }),
			`spec.contact.email: Invalid value: "nobody": contact email must be a valid email address`),
		Entry("owner name of 254 characters", organization("acme", func(o *iamv1alpha1.Organization) { o.Spec.Owner = strings.Repeat("a", 254) }),
			"spec.owner: Too long: may not be more than 253 bytes"),
	)

	DescribeTable("accepts the edge of a valid Organization",
		func(o *iamv1alpha1.Organization) {
			Expect(dryRunCreate(o)).To(Succeed())
		},
		Entry("slug of 16 characters", organization(strings.Repeat("a", 16), nil)),
		Entry("slug with a dash and digits", organization("a-1", func(o *iamv1alpha1.Organization) {
			o.Spec.DisplayName = strings.Repeat("d", 64)
			o.Spec.Contact = iamv1alpha1.OrganizationContact{Email: "ops@a-1.example.com", Phone: "+1 555 0100"}
		})),
	)

	DescribeTable("rejects a bad Membership with a message that names the problem",
		func(m *iamv1alpha1.Membership, fragments ...string) {
			expectInvalid(dryRunCreate(m), fragments...)
		},
		Entry("name that is not <organization>.<user>", membership("acme-alice", "acme", "alice", iamv1alpha1.RoleWorker),
			"metadata.name must be <spec.organization>.<spec.user>, so that a user has at most one membership per organization"),
		Entry("unknown role", membership("acme.alice", "acme", "alice", "boss"),
			`spec.role: Unsupported value: "boss": supported values: "owner", "maintainer", "supervisor", "worker"`),
		Entry("organization slug of 17 characters", membership(strings.Repeat("o", 17)+".alice", strings.Repeat("o", 17), "alice", iamv1alpha1.RoleWorker),
			"spec.organization: Too long: may not be more than 16 bytes"),
		Entry("missing user", membership("acme.", "acme", "", iamv1alpha1.RoleWorker),
			"spec.user: Invalid value: \"\": spec.user in body should be at least 1 chars long"),
	)

	It("rejects an unknown membership state", func() {
		m := membership("acme.alice", "acme", "alice", iamv1alpha1.RoleWorker)
		m.Spec.State = "invited"
		expectInvalid(dryRunCreate(m), `spec.state: Unsupported value: "invited": supported values: "active", "pending"`)
	})

	It("defaults a membership to active and keeps its organization and user immutable", func() {
		m := membership("acme.bob", "acme", "bob", iamv1alpha1.RoleWorker)
		Expect(k8sClient.Create(ctx, m)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, m)).To(Succeed()) })
		Expect(m.Spec.State).To(Equal(iamv1alpha1.MembershipActive))

		By("changing the role, which is allowed")
		m.Spec.Role = iamv1alpha1.RoleSupervisor
		Expect(k8sClient.Update(ctx, m)).To(Succeed())

		By("changing the user, which is not")
		moved := m.DeepCopy()
		moved.Spec.User = "carol"
		expectInvalid(k8sClient.Update(ctx, moved), "spec.user: Invalid value: \"carol\": user is immutable: delete the membership and create a new one")

		By("changing the organization, which is not")
		moved = m.DeepCopy()
		moved.Spec.Organization = "globex"
		expectInvalid(k8sClient.Update(ctx, moved), "spec.organization: Invalid value: \"globex\": organization is immutable: delete the membership and create a new one")
	})
})
