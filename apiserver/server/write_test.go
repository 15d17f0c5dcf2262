package server_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// makeUser creates a User outside the seeded directory, with an ID, in the
// given organizations (as an active worker), and removes it after the spec.
func makeUser(name string, id int64, orgs ...string) *iamv1alpha1.User {
	GinkgoHelper()
	u := &iamv1alpha1.User{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: iamv1alpha1.UserSpec{
			FirstName: "First", LastName: "Last", Email: name + "@example.com", IsActive: ptr.To(true),
		},
	}
	Expect(k8sClient.Create(ctx, u)).To(Succeed())
	u.Status.ID = id
	Expect(k8sClient.Status().Update(ctx, u)).To(Succeed())
	for _, org := range orgs {
		Expect(createMembership(seat{org, name, iamv1alpha1.RoleWorker, false})).To(Succeed())
	}
	DeferCleanup(func() {
		for _, org := range orgs {
			_ = client.IgnoreNotFound(deleteMembership(org, name))
		}
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name}}))).To(Succeed())
	})
	Eventually(func() int { return do(as("admin"), "GET", base+"/"+name, nil).Code }).Should(Equal(200))
	for _, org := range orgs {
		Eventually(func() []string {
			return do(as("admin"), "GET", base+"?org="+org+"&username="+name, nil).Names()
		}).Should(ConsistOf(name))
	}
	return u
}

// makeOrg creates an Organization with an ID and removes it after the spec.
func makeOrg(slug string, id int64) {
	GinkgoHelper()
	org := &iamv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: slug}}
	Expect(k8sClient.Create(ctx, org)).To(Succeed())
	org.Status.ID = id
	Expect(k8sClient.Status().Update(ctx, org)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, org))).To(Succeed()) })
	Eventually(func() int { return do(as("admin"), "GET", base+"?org="+slug, nil).Code }).Should(Equal(200))
}

// stored reads the User CRD straight from kube-apiserver.
func stored(name string) *iamv1alpha1.User {
	GinkgoHelper()
	u := &iamv1alpha1.User{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, u)).To(Succeed())
	return u
}

var _ = Describe("Writes", func() {
	Describe("patching one's own record", func() {
		It("changes first name, last name and email, and reads its own write at once", func() {
			makeUser("w-self", 101)
			r := do(as("w-self"), "PATCH", base+"/self", []byte(`{"firstName":"Wanda","lastName":"Maximoff","email":"wanda@example.org"}`))
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.JSON()).To(HaveKeyWithValue("firstName", "Wanda"))
			Expect(r.JSON()).To(HaveKeyWithValue("email", "wanda@example.org"))

			r = do(as("w-self"), "GET", base+"/w-self", nil)
			Expect(r.JSON()).To(HaveKeyWithValue("lastName", "Maximoff"))
			Expect(stored("w-self").Spec.Email).To(Equal("wanda@example.org"))
		})

		DescribeTable("refuses administrator-only fields with a 403 naming the field, and writes nothing",
			func(patch, field string) {
				makeUser("w-limited", 102)
				before := stored("w-limited")
				r := do(as("w-limited"), "PATCH", base+"/w-limited", []byte(patch))
				Expect(r.Code).To(Equal(403), string(r.Body))
				Expect(r.Message()).To(Equal(`users.directory.roster.dev "w-limited" is forbidden: only administrators may change ` + field))
				Expect(stored("w-limited").Spec).To(Equal(before.Spec))
			},
			Entry("username", `{"username":"boss"}`, "username"),
			Entry("isActive", `{"isActive":false}`, "isActive"),
			Entry("isStaff", `{"isStaff":true}`, "isStaff"),
			Entry("isSuperuser", `{"isSuperuser":true}`, "isSuperuser"),
			Entry("groups", `{"groups":["admin"]}`, "groups"),
		)

		DescribeTable("refuses read-only fields with a 422 naming the field, for users and administrators alike",
			func(caller, patch, field string) {
				makeUser("w-readonly", 103)
				before := stored("w-readonly")
				r := do(as(caller), "PATCH", base+"/w-readonly", []byte(patch))
				Expect(r.Code).To(Equal(422), string(r.Body))
				Expect(r.Message()).To(Equal(`User.directory.roster.dev "w-readonly" is invalid: ` + field + `: Forbidden: this field cannot be written through the directory`))
				Expect(stored("w-readonly").Spec).To(Equal(before.Spec))
			},
			Entry("id by the user", "w-readonly", `{"id":7}`, "id"),
			Entry("id by an administrator", "admin", `{"id":7}`, "id"),
			Entry("dateJoined", "w-readonly", `{"dateJoined":"2020-01-01T00:00:00Z"}`, "dateJoined"),
			Entry("lastLogin by an administrator", "admin", `{"lastLogin":"2020-01-01T00:00:00Z"}`, "lastLogin"),
		)

		It("refuses a field the directory does not know with a 422 naming it", func() {
			makeUser("w-unknown", 104)
			r := do(as("w-unknown"), "PATCH", base+"/w-unknown", []byte(`{"nickname":"ww"}`))
			Expect(r.Code).To(Equal(422), string(r.Body))
			Expect(r.Message()).To(ContainSubstring("nickname"))
		})

		DescribeTable("validates values with the CRD's rules, with a 422 naming the field (validation_test.go sends each case to both)",
			func(caller, patch, message string) {
				makeUser("w-valid", 105)
				before := stored("w-valid")
				r := do(as(caller), "PATCH", base+"/w-valid", []byte(patch))
				Expect(r.Code).To(Equal(422), string(r.Body))
				Expect(r.Message()).To(Equal(`User.directory.roster.dev "w-valid" is invalid: `+message), r.Message())
				Expect(stored("w-valid").Spec).To(Equal(before.Spec))
			},
			Entry("a bad email", "w-valid", `{"email":"nope"}`, `email: Invalid value: "nope": email must be a valid email address`),
			Entry("a first name of 151 characters", "w-valid", `{"firstName":"`+string(make151())+`"}`,
				"[firstName: Too long: may not be more than 150 bytes, <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]"),
			Entry("a bad username", "admin", `{"username":"has space"}`, `username: Invalid value: "has space": username may contain only letters, digits and @ . + - _`),
			Entry("a username another user has", "admin", `{"username":"alice"}`, `username: Duplicate value: "alice"`),
		)
	})

	Describe("administrators", func() {
		It("change any field a user may not, with merge, JSON and strategic merge patches", func() {
			makeUser("w-managed", 106)
			r := do(as("admin"), "PATCH", base+"/w-managed", []byte(`{"username":"w.managed","isStaff":true,"groups":["worker"]}`))
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.JSON()).To(HaveKeyWithValue("username", "w.managed"))
			Expect(stored("w-managed").Spec.Username).To(Equal("w.managed"))

			r = do(as("admin"), "PATCH", base+"/w-managed", []byte(`[{"op":"replace","path":"/isActive","value":false}]`),
				"Content-Type", "application/json-patch+json")
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(*stored("w-managed").Spec.IsActive).To(BeFalse())

			r = do(as("admin"), "PATCH", base+"/w-managed", []byte(`{"lastName":"Strategic"}`),
				"Content-Type", "application/strategic-merge-patch+json")
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(stored("w-managed").Spec.LastName).To(Equal("Strategic"))
		})

		It("are the only ones who may change other users", func() {
			makeUser("w-target", 107, "acme")
			r := do(as("alice"), "PATCH", base+"/w-target", []byte(`{"firstName":"Hacked"}`))
			Expect(r.Code).To(Equal(403), string(r.Body))
			Expect(r.Message()).To(Equal(`users.directory.roster.dev "w-target" is forbidden: only the user themselves or an administrator may change a user`))
			r = do(as("heidi"), "PATCH", base+"/w-target", []byte(`{"firstName":"Hacked"}`))
			Expect(r.Code).To(Equal(404), "a user the caller may not see is a 404")
			Expect(stored("w-target").Spec.FirstName).To(Equal("First"))
		})
	})

	It("refuses a write with a stale resourceVersion with a 409", func() {
		makeUser("w-stale", 108)
		old := stored("w-stale").ResourceVersion
		r := do(as("w-stale"), "PATCH", base+"/w-stale", []byte(`{"firstName":"One"}`))
		Expect(r.Code).To(Equal(200), string(r.Body))
		r = do(as("w-stale"), "PATCH", base+"/w-stale", []byte(`{"metadata":{"resourceVersion":"`+old+`"},"firstName":"Two"}`))
		Expect(r.Code).To(Equal(409), string(r.Body))
		Expect(r.Message()).To(ContainSubstring(`Operation cannot be fulfilled on users.directory.roster.dev "w-stale"`))
		Expect(stored("w-stale").Spec.FirstName).To(Equal("One"))
	})

	Describe("deleting", func() {
		It("lets a user delete themselves, with their memberships", func() {
			makeUser("w-leaver", 109, "acme", "globex")
			r := do(as("w-leaver"), "DELETE", base+"/self", nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			err := k8sClient.Get(ctx, client.ObjectKey{Name: "w-leaver"}, &iamv1alpha1.User{})
			Expect(apierrors.IsNotFound(err)).To(BeTrue())
			var ms iamv1alpha1.MembershipList
			Expect(k8sClient.List(ctx, &ms)).To(Succeed())
			for _, m := range ms.Items {
				Expect(m.Spec.User).NotTo(Equal("w-leaver"))
			}
			Expect(do(as("w-leaver"), "GET", base+"/w-leaver", nil).Code).To(Equal(404))
		})

		It("lets administrators delete anyone and nobody else", func() {
			makeUser("w-removed", 110, "acme")
			r := do(as("alice"), "DELETE", base+"/w-removed", nil)
			Expect(r.Code).To(Equal(403), string(r.Body))
			Expect(r.Message()).To(Equal(`users.directory.roster.dev "w-removed" is forbidden: only the user themselves or an administrator may delete a user`))
			Expect(do(as("heidi"), "DELETE", base+"/w-removed", nil).Code).To(Equal(404))
			Expect(do(as("admin"), "DELETE", base+"/w-removed", nil).Code).To(Equal(200))
			Expect(do(as("admin"), "GET", base+"/w-removed", nil).Code).To(Equal(404))
		})
	})

	Describe("creating", func() {
		It("lets administrators create users and refuses everyone else", func() {
			DeferCleanup(func() {
				_ = client.IgnoreNotFound(k8sClient.Delete(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "w-created"}}))
			})
			body := []byte(`{"apiVersion":"directory.roster.dev/v1alpha1","kind":"User","metadata":{"name":"w-created"},"username":"w-created","firstName":"New","email":"new@example.com"}`)
			r := do(as("alice"), "POST", base, body, "Content-Type", "application/json")
			Expect(r.Code).To(Equal(403), string(r.Body))
			Expect(r.Message()).To(Equal(`users.directory.roster.dev "w-created" is forbidden: only administrators may create users`))

			r = do(as("admin"), "POST", base, body, "Content-Type", "application/json")
			Expect(r.Code).To(Equal(201), string(r.Body))
			Expect(r.JSON()).To(HaveKeyWithValue("firstName", "New"))
			Expect(stored("w-created").Spec.Email).To(Equal("new@example.com"))
			Expect(do(as("admin"), "GET", base+"/w-created", nil).Code).To(Equal(200))
		})

		It("lets a caller with no User register themselves, and only themselves", func() {
			DeferCleanup(func() {
				_ = client.IgnoreNotFound(k8sClient.Delete(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "newcomer"}}))
			})
			r := do(as("newcomer"), "POST", base, []byte(`{"metadata":{"name":"someone"},"username":"someone"}`), "Content-Type", "application/json")
			Expect(r.Code).To(Equal(403), string(r.Body))
			r = do(as("newcomer"), "POST", base, []byte(`{"metadata":{"name":"newcomer"},"username":"newcomer","isSuperuser":true}`), "Content-Type", "application/json")
			Expect(r.Code).To(Equal(403), string(r.Body))
			Expect(r.Message()).To(ContainSubstring("only administrators may change isSuperuser"))

			r = do(as("newcomer"), "POST", base, []byte(`{"metadata":{"name":"newcomer"},"username":"newcomer","firstName":"Nia"}`), "Content-Type", "application/json")
			Expect(r.Code).To(Equal(201), string(r.Body))
			r = do(as("newcomer"), "GET", base+"/self", nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.JSON()).To(HaveKeyWithValue("firstName", "Nia"))
		})
	})

	Describe("kubectl", func() {
		It("patches one's own record, and shows the refusal of a forbidden patch", func() {
			makeUser("w-kubectl", 111)
			out, err := kubectl(as("w-kubectl"), "patch", "users", "self", "--type", "merge", "-p", `{"firstName":"Kay"}`)
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(stored("w-kubectl").Spec.FirstName).To(Equal("Kay"))

			out, err = kubectl(as("w-kubectl"), "patch", "users", "w-kubectl", "--type", "merge", "-p", `{"isSuperuser":true}`)
			Expect(err).To(HaveOccurred())
			Expect(out).To(ContainSubstring(`only administrators may change isSuperuser`))
		})

		It("explains the directory's users from its OpenAPI", func() {
			out, err := kubectl(as("alice"), "explain", "users")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).To(ContainSubstring("GROUP:      directory.roster.dev"))
			Expect(out).To(ContainSubstring("basic view"))
			out, err = kubectl(as("alice"), "explain", "users.firstName")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).To(ContainSubstring("given name"))
		})

		// The directory keeps no managedFields of its own, so every field
		// belongs to the "before-first-apply" manager and apply must force.
		It("applies a change server-side", func() {
			makeUser("w-applied", 112)
			out, err := kubectlIn(as("admin"), `apiVersion: directory.roster.dev/v1alpha1
kind: User
metadata:
  name: w-applied
lastName: Applied
`, "apply", "--server-side", "--force-conflicts", "-f", "-")
			Expect(err).NotTo(HaveOccurred(), out)
			Eventually(func() string { return stored("w-applied").Spec.LastName }, 10*time.Second).Should(Equal("Applied"))
		})
	})
})

func make151() []byte {
	b := make([]byte, 151)
	for i := range b {
		b[i] = 'x'
	}
	return b
}
