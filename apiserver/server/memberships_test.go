package server_test

import (
	"fmt"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

const memberships = "/apis/directory.roster.dev/v1alpha1/memberships"

// storedMembership reads the Membership CRD straight from kube-apiserver.
func storedMembership(name string) (*iamv1alpha1.Membership, error) {
	m := &iamv1alpha1.Membership{}
	err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, m)
	return m, err
}

var _ = Describe("Memberships", func() {
	Describe("who sees which memberships", func() {
		DescribeTable("lists an organization's memberships by the caller's standing in it",
			func(caller, query string, code int, want []string) {
				r := do(as(caller), "GET", memberships+query, nil)
				Expect(r.Code).To(Equal(code), string(r.Body))
				if code == 200 {
					Expect(r.Names()).To(Equal(want))
					Expect(r.JSON()["count"]).To(BeNumerically("==", len(want)))
				}
			},
			Entry("an administrator sees all, pending too", "admin", "?org=acme", 200,
				[]string{"acme.alice", "acme.bob", "acme.carol", "acme.dave", "acme.grace", "acme.judy"}),
			Entry("the owner sees all, pending too", "alice", "?org=acme", 200,
				[]string{"acme.alice", "acme.bob", "acme.carol", "acme.dave", "acme.grace", "acme.judy"}),
			Entry("a maintainer sees all, pending too", "bob", "?org=acme", 200,
				[]string{"acme.alice", "acme.bob", "acme.carol", "acme.dave", "acme.grace", "acme.judy"}),
			Entry("a supervisor sees the active ones", "carol", "?org=acme", 200,
				[]string{"acme.alice", "acme.bob", "acme.carol", "acme.dave", "acme.judy"}),
			Entry("a worker sees the active ones, by org_id", "dave", "?org_id=1", 200,
				[]string{"acme.alice", "acme.bob", "acme.carol", "acme.dave", "acme.judy"}),
			Entry("filtered by role", "alice", "?org=acme&role=worker", 200, []string{"acme.dave", "acme.grace", "acme.judy"}),
			Entry("filtered by state", "alice", "?org=acme&state=pending", 200, []string{"acme.grace"}),
			Entry("filtered by user", "alice", "?org=acme&user=bob", 200, []string{"acme.bob"}),
			Entry("without a context, one's own", "dave", "", 200, []string{"acme.dave", "globex.dave"}),
			Entry("an administrator without a context, filtered by user", "admin", "?user=dave", 200, []string{"acme.dave", "globex.dave"}),
			Entry("an administrator without a context, filtered by name", "admin", "?fieldSelector=metadata.name%3Dacme.bob", 200, []string{"acme.bob"}),
			Entry("an administrator without a context, filtered by state", "admin", "?state=pending&user=grace", 200, []string{"acme.grace"}),
			Entry("without a context, one's own invitation", "grace", "", 200, []string{"acme.grace"}),
			Entry("a pending invitee gets a 403 for the organization", "grace", "?org=acme", 403, nil),
			Entry("anyone else gets a 403", "frank", "?org=acme", 403, nil),
			Entry("an unknown organization is a 404", "alice", "?org=nosuchorg", 404, nil),
		)

		It("gives an administrator without a context every membership, in name order", func() {
			r := do(as("admin"), "GET", memberships, nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			names := r.Names()
			Expect(names).To(ContainElements("acme.alice", "acme.grace", "globex.dave"))
			Expect(slices.IsSorted(names)).To(BeTrue(), "%v", names)
			Expect(r.JSON()["count"]).To(BeNumerically("==", len(names)))
			r = do(as("admin"), "GET", memberships+"?page=2&page_size=2", nil)
			Expect(r.Names()).To(Equal(names[2:4]))
		})

		It("names the refusal as a users list does", func() {
			r := do(as("frank"), "GET", memberships+"?org=acme", nil)
			Expect(r.Message()).To(Equal("You are not an active member of the `acme` organization."))
			r = do(as("frank"), "GET", memberships+"?org=nosuchorg", nil)
			Expect(r.Message()).To(Equal("nosuchorg organization does not exist."))
		})

		It("pages with count, next and previous", func() {
			r := do(as("alice"), "GET", memberships+"?org=acme&page=2&page_size=4", nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.Names()).To(Equal([]string{"acme.grace", "acme.judy"}))
			Expect(r.JSON()["count"]).To(BeNumerically("==", 6))
			Expect(r.JSON()["previous"]).To(ContainSubstring("page=1"))
			Expect(r.JSON()["next"]).To(BeNil())
		})

		It("answers a membership the caller may not see with a 404, and shows its fields to those who may", func() {
			r := do(as("carol"), "GET", memberships+"/acme.grace", nil)
			Expect(r.Code).To(Equal(404), string(r.Body))
			r = do(as("bob"), "GET", memberships+"/acme.grace", nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.JSON()).To(And(
				HaveKeyWithValue("organization", "acme"), HaveKeyWithValue("organizationId", BeNumerically("==", 1)),
				HaveKeyWithValue("user", "grace"), HaveKeyWithValue("username", "grace"),
				HaveKeyWithValue("role", "worker"), HaveKeyWithValue("state", "pending"),
				HaveKey("invitedBy"), HaveKey("joinedDate")))
		})

		It("reaches the directory with plain kubectl get memberships, with its columns", func() {
			out, err := kubectl(as("alice"), "get", "memberships", "--selector", "", "-o", "wide")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).To(MatchRegexp(`NAME\s+ORGANIZATION\s+USER\s+ROLE\s+STATE\s+INVITED BY\s+AGE`))
			Expect(out).To(MatchRegexp(`(?m)^acme\.alice\s+acme\s+alice\s+owner\s+active\s`))
		})
	})

	Describe("users by role", func() {
		It("lists an organization's members with the given roles, and refuses a role without an organization", func() {
			r := do(as("alice"), "GET", base+"?org=acme&role=worker&sort=username", nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.Names()).To(Equal([]string{"dave", "grace", "judy"}))
			r = do(as("dave"), "GET", base+"?org=acme&role=owner,maintainer&sort=username", nil)
			Expect(r.Names()).To(Equal([]string{"alice", "bob"}))
			r = do(as("alice"), "GET", base+"?role=worker", nil)
			Expect(r.Code).To(Equal(400), string(r.Body))
			Expect(r.Message()).To(Equal("role: a role is held in an organization; name one with org, org_id or the X-Organization header"))
			r = do(as("alice"), "GET", base+"?org=acme&role=boss", nil)
			Expect(r.Code).To(Equal(400), string(r.Body))
			Expect(r.Message()).To(Equal(`role: "boss" is not a role; use owner, maintainer, supervisor or worker`))
		})
	})

	// The permission matrix of docs/users-api.md section 9: every cell, with
	// the status, the message and, for a refusal, an unchanged membership.
	Describe("the permission matrix", Ordered, func() {
		// In organization mx: m-owner, m-maint (maintainer), m-sup
		// (supervisor), m-work (worker), m-low (a maintainer whose privilege
		// group is worker); m-pend holds an invitation; m-out is in no
		// organization.
		BeforeAll(func() {
			makeOrg("mx", 71)
			for i, u := range []string{"m-owner", "m-maint", "m-sup", "m-work", "m-low", "m-pend", "m-out"} {
				makeUser(u, int64(600+i))
			}
			Expect(k8sClient.Patch(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "m-low"}},
				client.RawPatch(types.MergePatchType, []byte(`{"spec":{"groups":["worker"]}}`)))).To(Succeed())
			for _, s := range []seat{
				{"mx", "m-owner", iamv1alpha1.RoleOwner, false}, {"mx", "m-maint", iamv1alpha1.RoleMaintainer, false},
				{"mx", "m-sup", iamv1alpha1.RoleSupervisor, false}, {"mx", "m-work", iamv1alpha1.RoleWorker, false},
				{"mx", "m-low", iamv1alpha1.RoleMaintainer, false}, {"mx", "m-pend", iamv1alpha1.RoleWorker, true},
			} {
				Expect(createMembership(s)).To(Succeed())
				DeferCleanup(func() { _ = client.IgnoreNotFound(deleteMembership(s.org, s.user)) })
			}
			Eventually(func() int { return int(do(as("admin"), "GET", memberships+"?org=mx", nil).JSON()["count"].(float64)) }).Should(Equal(6))
		})

		// target creates a fresh user with a membership of mx in role (state
		// pending when pending), for one cell.
		n := 0
		target := func(role iamv1alpha1.MembershipRole, pending bool) string {
			GinkgoHelper()
			n++
			name := fmt.Sprintf("m-t%d", n)
			makeUser(name, int64(700+n))
			Expect(createMembership(seat{"mx", name, role, pending})).To(Succeed())
			DeferCleanup(func() { _ = client.IgnoreNotFound(deleteMembership("mx", name)) })
			Eventually(func() int { return do(as("admin"), "GET", memberships+"/mx."+name, nil).Code }).Should(Equal(200))
			return name
		}
		refusedUnchanged := func(r response, code int, message, name string, before *iamv1alpha1.Membership) {
			GinkgoHelper()
			Expect(r.Code).To(Equal(code), string(r.Body))
			Expect(r.Message()).To(Equal(message))
			after, err := storedMembership(name)
			if before == nil {
				Expect(apierrors.IsNotFound(err)).To(BeTrue(), "a refused invitation creates nothing")
				return
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(after.ResourceVersion).To(Equal(before.ResourceVersion), "a refused write changes nothing")
		}

		DescribeTable("invite (create a pending membership)",
			func(caller string, role iamv1alpha1.MembershipRole, code int, message string) {
				n++
				invitee := fmt.Sprintf("m-i%d", n)
				makeUser(invitee, int64(800+n))
				DeferCleanup(func() { _ = client.IgnoreNotFound(deleteMembership("mx", invitee)) })
				body := fmt.Sprintf(`{"apiVersion":"directory.roster.dev/v1alpha1","kind":"Membership","organization":"mx","user":%q,"role":%q}`, invitee, role)
				r := do(as(caller), "POST", memberships, []byte(body), "Content-Type", "application/json")
				if code != 201 {
					refusedUnchanged(r, code, strings.ReplaceAll(message, "NAME", "mx."+invitee), "mx."+invitee, nil)
					return
				}
				Expect(r.Code).To(Equal(201), string(r.Body))
				Expect(r.JSON()).To(And(HaveKeyWithValue("state", "pending"), HaveKeyWithValue("invitedBy", caller), HaveKeyWithValue("role", string(role))))
				m, err := storedMembership("mx." + invitee)
				Expect(err).NotTo(HaveOccurred())
				Expect(m.Spec.State).To(Equal(iamv1alpha1.MembershipPending))
				Expect(m.Spec.InvitedBy).To(Equal(caller))
			},
			Entry("the owner invites a maintainer", "m-owner", iamv1alpha1.RoleMaintainer, 201, ""),
			Entry("the owner invites a worker", "m-owner", iamv1alpha1.RoleWorker, 201, ""),
			Entry("the owner may not invite an owner", "m-owner", iamv1alpha1.RoleOwner, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: an owner may invite with any role but owner`),
			Entry("a maintainer invites a supervisor", "m-maint", iamv1alpha1.RoleSupervisor, 201, ""),
			Entry("a maintainer invites a worker", "m-maint", iamv1alpha1.RoleWorker, 201, ""),
			Entry("a maintainer may not invite a maintainer", "m-maint", iamv1alpha1.RoleMaintainer, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: a maintainer may invite only supervisors and workers`),
			Entry("a maintainer may not invite an owner", "m-maint", iamv1alpha1.RoleOwner, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: a maintainer may invite only supervisors and workers`),
			Entry("a maintainer of the worker privilege group may not invite", "m-low", iamv1alpha1.RoleWorker, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: inviting members needs at least the user privilege group`),
			Entry("a supervisor may not invite", "m-sup", iamv1alpha1.RoleWorker, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: only the owner or a maintainer of mx may invite to it`),
			Entry("a worker may not invite", "m-work", iamv1alpha1.RoleWorker, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: only the owner or a maintainer of mx may invite to it`),
			Entry("a pending invitee may not invite", "m-pend", iamv1alpha1.RoleWorker, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: only the owner or a maintainer of mx may invite to it`),
			Entry("an outsider may not invite", "m-out", iamv1alpha1.RoleWorker, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: only the owner or a maintainer of mx may invite to it`),
			Entry("an administrator invites an owner", "admin", iamv1alpha1.RoleOwner, 201, ""),
		)

		It("refuses to invite a user who does not exist, or is already in the organization", func() {
			body := `{"apiVersion":"directory.roster.dev/v1alpha1","kind":"Membership","organization":"mx","user":"m-nobody","role":"worker"}`
			r := do(as("m-owner"), "POST", memberships, []byte(body), "Content-Type", "application/json")
			Expect(r.Code).To(Equal(404), string(r.Body))
			body = `{"apiVersion":"directory.roster.dev/v1alpha1","kind":"Membership","organization":"mx","user":"m-work","role":"worker"}`
			r = do(as("m-owner"), "POST", memberships, []byte(body), "Content-Type", "application/json")
			Expect(r.Code).To(Equal(409), string(r.Body))
			body = `{"apiVersion":"directory.roster.dev/v1alpha1","kind":"Membership","organization":"mx","user":"m-out","role":"worker","invitedBy":"someone"}`
			r = do(as("m-owner"), "POST", memberships, []byte(body), "Content-Type", "application/json")
			Expect(r.Code).To(Equal(422), string(r.Body))
			Expect(r.Message()).To(ContainSubstring("invitedBy: Forbidden: this field cannot be written through the directory"))
		})

		It("lets only the invitee accept an invitation, and decline it", func() {
			invitee := target(iamv1alpha1.RoleWorker, true)
			before, _ := storedMembership("mx." + invitee)
			r := do(as("m-owner"), "PATCH", memberships+"/mx."+invitee, []byte(`{"state":"active"}`))
			refusedUnchanged(r, 403, `memberships.directory.roster.dev "mx.`+invitee+`" is forbidden: only the invitee may accept an invitation`, "mx."+invitee, before)
			r = do(as(invitee), "PATCH", memberships+"/mx."+invitee, []byte(`{"state":"active"}`))
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.JSON()).To(HaveKeyWithValue("state", "active"))

			other := target(iamv1alpha1.RoleWorker, true)
			r = do(as(other), "DELETE", memberships+"/mx."+other, nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			_, err := storedMembership("mx." + other)
			Expect(apierrors.IsNotFound(err)).To(BeTrue())
		})

		DescribeTable("change a role",
			func(caller string, from, to iamv1alpha1.MembershipRole, code int, message string) {
				name := "mx." + target(from, false)
				before, _ := storedMembership(name)
				r := do(as(caller), "PATCH", memberships+"/"+name, []byte(fmt.Sprintf(`{"role":%q}`, to)))
				if code != 200 {
					refusedUnchanged(r, code, strings.ReplaceAll(message, "NAME", name), name, before)
					return
				}
				Expect(r.Code).To(Equal(200), string(r.Body))
				after, _ := storedMembership(name)
				Expect(after.Spec.Role).To(Equal(to))
			},
			Entry("the owner: worker to maintainer", "m-owner", iamv1alpha1.RoleWorker, iamv1alpha1.RoleMaintainer, 200, ""),
			Entry("the owner: maintainer to supervisor", "m-owner", iamv1alpha1.RoleMaintainer, iamv1alpha1.RoleSupervisor, 200, ""),
			Entry("the owner: never to owner", "m-owner", iamv1alpha1.RoleWorker, iamv1alpha1.RoleOwner, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: an owner may not give or take the owner role`),
			Entry("a maintainer: worker to supervisor", "m-maint", iamv1alpha1.RoleWorker, iamv1alpha1.RoleSupervisor, 200, ""),
			Entry("a maintainer: never to maintainer", "m-maint", iamv1alpha1.RoleWorker, iamv1alpha1.RoleMaintainer, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: a maintainer may give only the supervisor and worker roles`),
			Entry("a maintainer: never another maintainer", "m-maint", iamv1alpha1.RoleMaintainer, iamv1alpha1.RoleWorker, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: a maintainer may change the roles of supervisors and workers only`),
			Entry("a maintainer of the worker privilege group", "m-low", iamv1alpha1.RoleWorker, iamv1alpha1.RoleSupervisor, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: changing roles needs at least the user privilege group`),
			Entry("a supervisor", "m-sup", iamv1alpha1.RoleWorker, iamv1alpha1.RoleSupervisor, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: only the owner or a maintainer of mx may change roles in it`),
			Entry("an administrator: worker to owner", "admin", iamv1alpha1.RoleWorker, iamv1alpha1.RoleOwner, 200, ""),
		)

		It("lets no one change their own role", func() {
			before, _ := storedMembership("mx.m-maint")
			r := do(as("m-maint"), "PATCH", memberships+"/mx.m-maint", []byte(`{"role":"worker"}`))
			refusedUnchanged(r, 403, `memberships.directory.roster.dev "mx.m-maint" is forbidden: no one may change their own role`, "mx.m-maint", before)
		})

		It("refuses read-only and immutable fields with a 422", func() {
			name := "mx." + target(iamv1alpha1.RoleWorker, false)
			before, _ := storedMembership(name)
			r := do(as("admin"), "PATCH", memberships+"/"+name, []byte(`{"organization":"acme"}`))
			Expect(r.Code).To(Equal(422), string(r.Body))
			Expect(r.Message()).To(ContainSubstring("organization: Invalid value: \"acme\": organization is immutable"))
			r = do(as("admin"), "PATCH", memberships+"/"+name, []byte(`{"organizationId":99}`))
			Expect(r.Code).To(Equal(422), string(r.Body))
			Expect(r.Message()).To(ContainSubstring("organizationId: Forbidden"))
			after, _ := storedMembership(name)
			Expect(after.ResourceVersion).To(Equal(before.ResourceVersion))
		})

		DescribeTable("remove a member, or leave",
			func(caller string, role iamv1alpha1.MembershipRole, self bool, code int, message string) {
				name := "mx." + caller
				if !self {
					name = "mx." + target(role, false)
				}
				before, _ := storedMembership(name)
				r := do(as(caller), "DELETE", memberships+"/"+name, nil)
				if code != 200 {
					refusedUnchanged(r, code, strings.ReplaceAll(message, "NAME", name), name, before)
					return
				}
				Expect(r.Code).To(Equal(200), string(r.Body))
				_, err := storedMembership(name)
				Expect(apierrors.IsNotFound(err)).To(BeTrue())
			},
			Entry("the owner removes a maintainer", "m-owner", iamv1alpha1.RoleMaintainer, false, 200, ""),
			Entry("the owner may not remove an owner", "m-owner", iamv1alpha1.RoleOwner, false, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: only an administrator may remove an owner`),
			Entry("the owner may not leave", "m-owner", iamv1alpha1.RoleOwner, true, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: the owner may not leave the organization`),
			Entry("a maintainer removes a worker", "m-maint", iamv1alpha1.RoleWorker, false, 200, ""),
			Entry("a maintainer may not remove a maintainer", "m-maint", iamv1alpha1.RoleMaintainer, false, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: a maintainer may remove only supervisors and workers`),
			Entry("a maintainer of the worker privilege group may not remove", "m-low", iamv1alpha1.RoleWorker, false, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: removing members needs at least the user privilege group`),
			Entry("a supervisor may not remove", "m-sup", iamv1alpha1.RoleWorker, false, 403,
				`memberships.directory.roster.dev "NAME" is forbidden: only the owner or a maintainer of mx may remove its members`),
			Entry("a worker leaves", "m-work", iamv1alpha1.RoleWorker, true, 200, ""),
		)

		It("answers a membership the caller may not see with a 404 on every verb", func() {
			for _, verb := range []string{"GET", "PATCH", "DELETE"} {
				var body []byte
				if verb == "PATCH" {
					body = []byte(`{"role":"worker"}`)
				}
				r := do(as("m-out"), verb, memberships+"/mx.m-sup", body)
				Expect(r.Code).To(Equal(404), "%s: %s", verb, r.Body)
			}
		})
	})

	Describe("watching users by role", func() {
		It("sends ADDED and DELETED as members take and leave the role", func() {
			makeOrg("rw", 73)
			makeUser("rw-owner", 961)
			makeUser("rw-member", 962)
			Expect(createMembership(seat{"rw", "rw-owner", iamv1alpha1.RoleOwner, false})).To(Succeed())
			Expect(createMembership(seat{"rw", "rw-member", iamv1alpha1.RoleWorker, false})).To(Succeed())
			DeferCleanup(func() {
				_ = client.IgnoreNotFound(deleteMembership("rw", "rw-owner"))
				_ = client.IgnoreNotFound(deleteMembership("rw", "rw-member"))
			})
			Eventually(func() []string { return do(as("rw-owner"), "GET", base+"?org=rw&role=worker", nil).Names() }).Should(Equal([]string{"rw-member"}))
			s := watchUsers(as("rw-owner"), "org=rw&role=supervisor")
			Consistently(s.summary, "500ms").Should(BeEmpty())
			By("making the worker a supervisor, through the directory, as the owner")
			r := do(as("rw-owner"), "PATCH", memberships+"/rw.rw-member", []byte(`{"role":"supervisor"}`))
			Expect(r.Code).To(Equal(200), string(r.Body))
			Eventually(s.summary).Should(Equal([]string{"ADDED rw-member"}))
			By("and back, with server-side apply")
			out, err := kubectlIn(as("rw-owner"), "apiVersion: directory.roster.dev/v1alpha1\nkind: Membership\nmetadata:\n  name: rw.rw-member\norganization: rw\nuser: rw-member\nrole: worker\n",
				"apply", "--server-side", "--force-conflicts", "-f", "-")
			Expect(err).NotTo(HaveOccurred(), out)
			Eventually(s.summary).Should(Equal([]string{"ADDED rw-member", "DELETED rw-member"}))
		})
	})

	Describe("privilege groups", func() {
		It("makes a user in the admin group an administrator", func() {
			u := makeUser("p-admin", 901)
			Expect(do(as("p-admin"), "GET", base+"?org=globex", nil).Code).To(Equal(403))
			Expect(k8sClient.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"groups":["admin"]}}`)))).To(Succeed())
			Eventually(func() int { return do(as("p-admin"), "GET", base+"?org=globex", nil).Code }).Should(Equal(200))
			r := do(as("p-admin"), "GET", base+"/frank", nil)
			Expect(r.JSON()).To(HaveKey("email"), "an administrator reads the full view")
		})
	})

	Describe("watch", func() {
		It("sends the memberships the caller may see, and ADDED and DELETED as that changes", func() {
			makeOrg("mw", 72)
			makeUser("mw-owner", 951)
			makeUser("mw-worker", 952)
			Expect(createMembership(seat{"mw", "mw-owner", iamv1alpha1.RoleOwner, false})).To(Succeed())
			DeferCleanup(func() { _ = client.IgnoreNotFound(deleteMembership("mw", "mw-owner")) })
			Eventually(func() int { return do(as("mw-owner"), "GET", memberships+"?org=mw", nil).Code }).Should(Equal(200))
			s := watchPath(as("mw-worker"), memberships, "")
			Consistently(s.summary, "500ms").Should(BeEmpty())

			By("an invitation shows to the invitee")
			body := `{"apiVersion":"directory.roster.dev/v1alpha1","kind":"Membership","organization":"mw","user":"mw-worker","role":"worker"}`
			Expect(do(as("mw-owner"), "POST", memberships, []byte(body), "Content-Type", "application/json").Code).To(Equal(201))
			DeferCleanup(func() { _ = client.IgnoreNotFound(deleteMembership("mw", "mw-worker")) })
			Eventually(s.summary).Should(Equal([]string{"ADDED mw.mw-worker"}), func() string { return fmt.Sprintf("%+v", s.Events()) })

			By("accepting it")
			Expect(do(as("mw-worker"), "PATCH", memberships+"/mw.mw-worker", []byte(`{"state":"active"}`)).Code).To(Equal(200))
			Eventually(s.summary).Should(Equal([]string{"ADDED mw.mw-worker", "MODIFIED mw.mw-worker"}))

			By("in the organization's context, the owner shows once the caller is a member")
			o := watchPath(as("mw-worker"), memberships, "org=mw")
			Eventually(o.summary).Should(ConsistOf("ADDED mw.mw-owner", "ADDED mw.mw-worker"))

			By("leaving")
			Expect(do(as("mw-worker"), "DELETE", memberships+"/mw.mw-worker", nil).Code).To(Equal(200))
			Eventually(s.summary).Should(Equal([]string{"ADDED mw.mw-worker", "MODIFIED mw.mw-worker", "DELETED mw.mw-worker"}))
			Eventually(o.summary).Should(ContainElements("DELETED mw.mw-owner", "DELETED mw.mw-worker"))
		})
	})
})
