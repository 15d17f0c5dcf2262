package config_test

import (
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// policyName is the name of both the ValidatingAdmissionPolicy and its
// binding in config/policy.
const policyName = "roster-user-field-rules"

// Kubernetes user names of the callers in these tests.
const (
	policyPat       = "pat"
	policyRosterAdm = "riley"
	policyDirectory = "system:serviceaccount:roster-system:roster-directory"
	policyGC        = "system:serviceaccount:kube-system:generic-garbage-collector"
)

// policyClient returns a client that authenticates to the test API server as
// the given user.
func policyClient(u envtest.User) client.Client {
	GinkgoHelper()
	authn, err := testEnv.AddUser(u, nil)
	Expect(err).NotTo(HaveOccurred())
	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(iamv1alpha1.AddToScheme(scheme)).To(Succeed())
	c, err := client.New(authn.Config(), client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// policyUser creates a User as the suite's administrator and deletes it when
// the spec ends, dropping any finalizers the spec left on it first.
func policyUser(u *iamv1alpha1.User) *iamv1alpha1.User {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, u)).To(Succeed())
	DeferCleanup(func() {
		err := k8sClient.Patch(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: u.Name}},
			client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
		if apierrors.IsNotFound(err) {
			return
		}
		Expect(err).NotTo(HaveOccurred())
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, u))).To(Succeed())
	})
	return u
}

// mergePatch applies a JSON merge patch to the User called name as c.
func mergePatch(c client.Client, name, patch string) error {
	return c.Patch(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name}},
		client.RawPatch(types.MergePatchType, []byte(patch)))
}

// getUser reads the User called name as the suite's administrator.
func getUser(name string) *iamv1alpha1.User {
	GinkgoHelper()
	u := &iamv1alpha1.User{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, u)).To(Succeed())
	return u
}

// expectPolicyDenied asserts that err is the policy's denial: a 403 Forbidden
// whose message is the given validation message.
func expectPolicyDenied(err error, message string) {
	GinkgoHelper()
	Expect(err).To(HaveOccurred())
	Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want 403 Forbidden, got %v", err)
	var status apierrors.APIStatus
	Expect(errors.As(err, &status)).To(BeTrue())
	Expect(status.Status().Code).To(BeEquivalentTo(403))
	Expect(err.Error()).To(ContainSubstring(fmt.Sprintf(
		"ValidatingAdmissionPolicy '%s' with binding '%s' denied request: %s", policyName, policyName, message)))
}

var _ = Describe("User field rules admission policy", Ordered, func() {
	var pat, rosterAdmin, directory, gc client.Client

	BeforeAll(func() {
		By("letting the test callers write Users and their status, so only the policy can stop them")
		role := &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "policy-test-user-writer"},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{iamv1alpha1.GroupVersion.Group},
				Resources: []string{"users"},
				Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"},
			}, {
				APIGroups: []string{iamv1alpha1.GroupVersion.Group},
				Resources: []string{"users/status"},
				Verbs:     []string{"get", "update", "patch"},
			}},
		}
		Expect(k8sClient.Create(ctx, role)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, role))).To(Succeed()) })
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "policy-test-user-writer"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects: []rbacv1.Subject{
				{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: policyPat},
				{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: policyRosterAdm},
				{Kind: rbacv1.ServiceAccountKind, Namespace: "roster-system", Name: "roster-directory"},
				{Kind: rbacv1.ServiceAccountKind, Namespace: "kube-system", Name: "generic-garbage-collector"},
			},
		}
		Expect(k8sClient.Create(ctx, binding)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, binding))).To(Succeed()) })

		pat = policyClient(envtest.User{Name: policyPat})
		rosterAdmin = policyClient(envtest.User{Name: policyRosterAdm, Groups: []string{"roster:admins"}})
		directory = policyClient(envtest.User{Name: policyDirectory})
		gc = policyClient(envtest.User{Name: policyGC})

		By("applying config/policy")
		out, err := kubectl("apply", "-k", "policy")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("validatingadmissionpolicy.admissionregistration.k8s.io/" + policyName))
		Expect(out).To(ContainSubstring("validatingadmissionpolicybinding.admissionregistration.k8s.io/" + policyName))
		DeferCleanup(func() {
			out, err := kubectl("delete", "-k", "policy", "--ignore-not-found")
			Expect(err).NotTo(HaveOccurred(), out)
		})

		// The API server loads policies and bindings through informers, so
		// enforcement starts a little after the apply. (The type-checking
		// status comes from kube-controller-manager, which envtest lacks.)
		By("waiting until the API server enforces the policy")
		Eventually(func(g Gomega) {
			err := pat.Create(ctx, user("policy-probe", nil), client.DryRunAll)
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).To(ContainSubstring("only administrators may create users"))
		}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	})

	DescribeTable("lets a user change their own firstName, lastName and email",
		func(name string, mutate func(*iamv1alpha1.User)) {
			policyUser(user(name, func(u *iamv1alpha1.User) {
				u.Spec.FirstName = "Pat"
				u.Spec.Email = "pat@example.com"
				if mutate != nil {
					mutate(u)
				}
			}))
			Expect(mergePatch(pat, name, `{"spec":{"firstName":"Patricia"}}`)).To(Succeed())
			Expect(mergePatch(pat, name, `{"spec":{"lastName":"Jones","email":"patricia.jones@example.com"}}`)).To(Succeed())
			got := getUser(name)
			Expect(got.Spec.FirstName).To(Equal("Patricia"))
			Expect(got.Spec.LastName).To(Equal("Jones"))
			Expect(got.Spec.Email).To(Equal("patricia.jones@example.com"))

			By("clearing a field, too")
			Expect(mergePatch(pat, name, `{"spec":{"lastName":null}}`)).To(Succeed())
			Expect(getUser(name).Spec.LastName).To(BeEmpty())
		},
		Entry("found by metadata.name when spec.username is unset", policyPat, nil),
		Entry("found by spec.username", "policy-self-by-username", func(u *iamv1alpha1.User) {
			u.Spec.Username = policyPat
		}),
		Entry("found by spec.identities", "policy-self-by-identity", func(u *iamv1alpha1.User) {
			u.Spec.Username = "patricia"
			u.Spec.Identities = []string{"oidc:pat@example.com", policyPat}
		}),
	)

	DescribeTable("lets a user write what only restates the current values of the administrators' fields",
		func(name, patch string) {
			policyUser(user(name, func(u *iamv1alpha1.User) {
				u.Spec.Groups = []string{"user", "worker"}
			}))
			Expect(mergePatch(pat, name, patch)).To(Succeed())
		},
		Entry("spec.username set to metadata.name", "pat", `{"spec":{"username":"pat","firstName":"Pat"}}`),
		Entry("isActive set to its default", "pat", `{"spec":{"isActive":true}}`),
		Entry("isStaff and isSuperuser set to false", "pat", `{"spec":{"isStaff":false,"isSuperuser":false}}`),
		Entry("groups in another order", "pat", `{"spec":{"groups":["worker","user"]}}`),
		Entry("labels and annotations, as kubectl apply writes them", "pat",
			`{"metadata":{"labels":{"team":"blue"},"annotations":{"note":"hello"}}}`),
	)

	DescribeTable("denies a user changing an administrators' field of their own User with 403 naming the field",
		func(name, patch, message string) {
			before := policyUser(user(name, func(u *iamv1alpha1.User) {
				u.Spec.Username = policyPat
				u.Spec.FirstName = "Pat"
				u.Spec.Groups = []string{"user"}
				u.Finalizers = []string{"iam.roster.dev/cleanup"}
				u.Annotations = map[string]string{"iam.roster.dev/id": "42"}
			}))
			expectPolicyDenied(mergePatch(pat, name, patch), message)
			after := getUser(name)
			Expect(after.ResourceVersion).To(Equal(before.ResourceVersion))
			Expect(after.Spec).To(Equal(before.Spec))
			Expect(after.Finalizers).To(Equal(before.Finalizers))
			Expect(after.Annotations).To(Equal(before.Annotations))
		},
		Entry("username", "policy-deny-username", `{"spec":{"username":"patricia"}}`,
			"only administrators may change username"),
		Entry("username unset, falling back to another metadata.name", "policy-deny-username-unset",
			`{"spec":{"username":null}}`, "only administrators may change username"),
		Entry("isActive", "policy-deny-isactive", `{"spec":{"isActive":false}}`,
			"only administrators may change isActive"),
		Entry("isStaff", "policy-deny-isstaff", `{"spec":{"isStaff":true}}`,
			"only administrators may change isStaff"),
		Entry("isSuperuser", "policy-deny-issuperuser", `{"spec":{"isSuperuser":true}}`,
			"only administrators may change isSuperuser"),
		Entry("groups, adding one", "policy-deny-groups-add", `{"spec":{"groups":["user","admin"]}}`,
			"only administrators may change groups"),
		Entry("groups, removing all", "policy-deny-groups-remove", `{"spec":{"groups":null}}`,
			"only administrators may change groups"),
		Entry("identities", "policy-deny-identities", `{"spec":{"identities":["oidc:someone@example.com"]}}`,
			"only administrators may change identities"),
		Entry("finalizers", "policy-deny-finalizers", `{"metadata":{"finalizers":null}}`,
			"only administrators may change finalizers"),
		Entry("the ID annotation, set beyond the largest ID (hardening 2)", "policy-deny-id-max",
			`{"metadata":{"annotations":{"iam.roster.dev/id":"9223372036854775807"}}}`, "only administrators may change the iam.roster.dev/id annotation"),
		Entry("the ID annotation, changed to a small ID", "policy-deny-id-change",
			`{"metadata":{"annotations":{"iam.roster.dev/id":"1"}}}`, "only administrators may change the iam.roster.dev/id annotation"),
		Entry("the ID annotation, removed", "policy-deny-id-remove",
			`{"metadata":{"annotations":{"iam.roster.dev/id":null}}}`, "only administrators may change the iam.roster.dev/id annotation"),
		Entry("isSuperuser together with firstName, changing neither", "policy-deny-mixed",
			`{"spec":{"firstName":"Root","isSuperuser":true}}`, "only administrators may change isSuperuser"),
	)

	It("denies a user changing an administrators' field when the User has none of it yet", func() {
		before := policyUser(user("pat", nil))
		Expect(before.Spec.Groups).To(BeNil())
		Expect(before.Spec.IsActive).To(Equal(ptr.To(true)), "the CRD defaults isActive")
		expectPolicyDenied(mergePatch(pat, "pat", `{"spec":{"groups":["admin"]}}`), "only administrators may change groups")
		expectPolicyDenied(mergePatch(pat, "pat", `{"spec":{"username":"root"}}`), "only administrators may change username")
		Expect(getUser("pat").ResourceVersion).To(Equal(before.ResourceVersion))
	})

	It("denies a user changing another user's User, even its firstName", func() {
		before := policyUser(user("policy-other", func(u *iamv1alpha1.User) {
			u.Spec.Username = "sam"
			u.Spec.FirstName = "Sam"
			u.Spec.Identities = []string{"oidc:sam@example.com"}
		}))
		expectPolicyDenied(mergePatch(pat, "policy-other", `{"spec":{"firstName":"Pat"}}`),
			"only the user themselves or an administrator may change a user")

		By("including claiming it by adding their own name to its identities")
		expectPolicyDenied(mergePatch(pat, "policy-other", `{"spec":{"identities":["oidc:sam@example.com","pat"]}}`),
			"only the user themselves or an administrator may change a user")
		Expect(getUser("policy-other").ResourceVersion).To(Equal(before.ResourceVersion))
	})

	It("denies a user creating a User, even their own", func() {
		for _, u := range []*iamv1alpha1.User{
			user("pat", nil),
			user("policy-create", func(u *iamv1alpha1.User) { u.Spec.Username = policyPat }),
		} {
			expectPolicyDenied(pat.Create(ctx, u), "only administrators may create users")
			Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), &iamv1alpha1.User{}))).To(BeTrue())
		}
	})

	It("denies a user deleting a User, even their own", func() {
		own := policyUser(user("pat", nil))
		other := policyUser(user("policy-delete-other", nil))
		for _, u := range []*iamv1alpha1.User{own, other} {
			expectPolicyDenied(pat.Delete(ctx, u), "only administrators may delete users")
			got := getUser(u.Name)
			Expect(got.DeletionTimestamp).To(BeNil())
		}
	})

	It("lets an administrator in system:masters change every field, create and delete", func() {
		policyUser(user("policy-admin-masters", func(u *iamv1alpha1.User) { u.Spec.Username = "sam" }))
		out, err := kubectl("patch", "user", "policy-admin-masters", "--type=merge", "-p",
			`{"metadata":{"finalizers":["example.com/hold"]},"spec":{"username":"samuel","firstName":"Samuel",`+
				`"isActive":false,"isStaff":true,"isSuperuser":true,"groups":["admin"],"identities":["oidc:sam@example.com"]}}`)
		Expect(err).NotTo(HaveOccurred(), out)
		got := getUser("policy-admin-masters")
		Expect(got.Spec).To(Equal(iamv1alpha1.UserSpec{
			Username: "samuel", FirstName: "Samuel", IsActive: ptr.To(false), IsStaff: true, IsSuperuser: true,
			Groups: []string{"admin"}, Identities: []string{"oidc:sam@example.com"},
		}))
		Expect(got.Finalizers).To(ConsistOf("example.com/hold"))

		Expect(k8sClient.Create(ctx, user("policy-admin-created", nil), client.DryRunAll)).To(Succeed())
		out, err = kubectl("delete", "user", "policy-admin-masters", "--dry-run=server")
		Expect(err).NotTo(HaveOccurred(), out)
	})

	It("lets an administrator in roster:admins change every field, create and delete", func() {
		policyUser(user("policy-admin-group", nil))
		Expect(mergePatch(rosterAdmin, "policy-admin-group",
			`{"spec":{"username":"sam","isActive":false,"isStaff":true,"isSuperuser":true,"groups":["admin"],"identities":["oidc:sam@example.com"]}}`)).
			To(Succeed())
		got := getUser("policy-admin-group")
		Expect(got.Spec.Username).To(Equal("sam"))
		Expect(got.Spec.IsSuperuser).To(BeTrue())

		created := user("policy-admin-group-created", nil)
		Expect(rosterAdmin.Create(ctx, created)).To(Succeed())
		Expect(rosterAdmin.Delete(ctx, created)).To(Succeed())
	})

	It("lets Roster's service accounts in roster-system change every field, create and delete", func() {
		policyUser(user("policy-directory", func(u *iamv1alpha1.User) { u.Spec.Username = "sam" }))
		Expect(mergePatch(directory, "policy-directory", `{"spec":{"username":"samuel","isSuperuser":true,"groups":["admin"]}}`)).
			To(Succeed())
		got := getUser("policy-directory")
		Expect(got.Spec.Username).To(Equal("samuel"))
		Expect(got.Spec.IsSuperuser).To(BeTrue())
		Expect(got.Spec.Groups).To(Equal([]string{"admin"}))

		created := user("policy-directory-created", nil)
		Expect(directory.Create(ctx, created)).To(Succeed())
		Expect(directory.Delete(ctx, created)).To(Succeed())
	})

	It("lets the garbage collector remove a finalizer after an administrator's cascading delete", func() {
		policyUser(user("policy-gc", func(u *iamv1alpha1.User) { u.Finalizers = []string{"foregroundDeletion"} }))
		Expect(mergePatch(gc, "policy-gc", `{"metadata":{"finalizers":null}}`)).To(Succeed())
		Expect(getUser("policy-gc").Finalizers).To(BeEmpty())
	})

	It("does not apply to the status subresource", func() {
		before := policyUser(user("policy-status", func(u *iamv1alpha1.User) { u.Spec.Username = "sam" }))
		By("pat, who is not the user, writing status with RBAC allowing it")
		patched := before.DeepCopy()
		patched.Status.ID = 42
		Expect(pat.Status().Update(ctx, patched)).To(Succeed())
		Expect(mergePatch(pat, "policy-status", `{"spec":{"firstName":"Pat"}}`)).To(
			MatchError(ContainSubstring("only the user themselves or an administrator may change a user")))
		got := getUser("policy-status")
		Expect(got.Status.ID).To(BeEquivalentTo(42))
		Expect(got.Spec).To(Equal(before.Spec))

		By("a spec write carrying status leaves status alone and is judged on spec alone")
		self := policyUser(user("pat", nil))
		self.Spec.FirstName = "Pat"
		self.Status.ID = 7
		Expect(pat.Update(ctx, self)).To(Succeed())
		got = getUser("pat")
		Expect(got.Spec.FirstName).To(Equal("Pat"))
		Expect(got.Status.ID).To(BeZero())
	})
})
