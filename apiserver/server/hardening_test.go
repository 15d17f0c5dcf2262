package server_test

import (
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	gtypes "github.com/onsi/gomega/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// The hardening regression suite: one spec (or table) per defect found by
// attacking the directory (docs/security.md lists them).
var _ = Describe("Hardening", func() {
	Describe("dryRun (1)", func() {
		It("deletes nothing on kubectl delete --dry-run=server, neither the user nor its memberships", func() {
			makeUser("h-dry-delete", 301, "acme")
			before := stored("h-dry-delete")
			out, err := kubectl(as("admin"), "delete", "users.directory.roster.dev", "h-dry-delete", "--dry-run=server")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).To(ContainSubstring("deleted (server dry run)"))
			Expect(stored("h-dry-delete").ResourceVersion).To(Equal(before.ResourceVersion))
			m := &iamv1alpha1.Membership{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: iamv1alpha1.MembershipName("acme", "h-dry-delete")}, m)).To(Succeed())
			Expect(m.DeletionTimestamp).To(BeNil())
		})

		It("checks a dry-run delete like a real one", func() {
			makeUser("h-dry-delete-other", 302)
			r := do(as("bob"), "DELETE", base+"/h-dry-delete-other?dryRun=All", nil)
			Expect(r.Code).To(Equal(404), string(r.Body))
			r = do(as("admin"), "DELETE", base+"/h-dry-delete-other?dryRun=Everything", nil)
			Expect(r.Code).To(Equal(422), string(r.Body))
			Expect(r.Message()).To(ContainSubstring(`dryRun: Unsupported value: ["Everything"]: supported values: "All"`))
			Expect(stored("h-dry-delete-other").DeletionTimestamp).To(BeNil())
		})

		It("returns the patched user on PATCH ?dryRun=All and stores nothing", func() {
			makeUser("h-dry-patch", 303)
			Expect(do(as("h-dry-patch"), "GET", base+"/self", nil).Code).To(Equal(200), "recording the caller's lastLogin first")
			before := stored("h-dry-patch")
			r := do(as("h-dry-patch"), "PATCH", base+"/h-dry-patch?dryRun=All", []byte(`{"firstName":"Dry"}`))
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.JSON()).To(HaveKeyWithValue("firstName", "Dry"))
			after := stored("h-dry-patch")
			Expect(after.Spec).To(Equal(before.Spec))
			Expect(after.ResourceVersion).To(Equal(before.ResourceVersion))
		})

		It("runs every check on a dry-run patch", func() {
			makeUser("h-dry-refused", 304)
			r := do(as("h-dry-refused"), "PATCH", base+"/h-dry-refused?dryRun=All", []byte(`{"isSuperuser":true}`))
			Expect(r.Code).To(Equal(403), string(r.Body))
			r = do(as("h-dry-refused"), "PATCH", base+"/h-dry-refused?dryRun=All", []byte(`{"email":"nope"}`))
			Expect(r.Code).To(Equal(422), string(r.Body))
		})

		It("returns the user a dry-run create would make, stores nothing and allocates no ID", func() {
			r := do(as("admin"), "POST", base+"?dryRun=All", []byte(`{"apiVersion":"directory.roster.dev/v1alpha1","kind":"User","metadata":{"name":"h-dry-create"},"firstName":"Dry"}`),
				"Content-Type", "application/json")
			Expect(r.Code).To(Equal(201), string(r.Body))
			Expect(r.JSON()).To(HaveKeyWithValue("username", "h-dry-create"))
			Expect(r.JSON()).To(HaveKeyWithValue("firstName", "Dry"))
			err := k8sClient.Get(ctx, client.ObjectKey{Name: "h-dry-create"}, &iamv1alpha1.User{})
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "a dry-run create stores nothing: %v", err)
			Consistently(func() int { return do(as("admin"), "GET", base+"/h-dry-create", nil).Code }, "1s").Should(Equal(404))
		})

		It("changes nothing on kubectl diff, client-side or server-side", func() {
			makeUser("h-diff", 305)
			Expect(do(as("admin"), "GET", base+"/self", nil).Code).To(Equal(200))
			before := stored("h-diff")
			manifest := "apiVersion: directory.roster.dev/v1alpha1\nkind: User\nmetadata:\n  name: h-diff\nusername: h-diff\nfirstName: Changed\n"
			for _, args := range [][]string{{"diff", "--server-side", "--force-conflicts", "-f", "-"}, {"diff", "-f", "-"}} {
				out, err := kubectlIn(as("admin"), manifest, args...)
				var exit *exec.ExitError
				if err != nil {
					Expect(err).To(BeAssignableToTypeOf(exit), out)
				}
				if args[1] == "--server-side" {
					Expect(err).To(HaveOccurred(), "kubectl diff exits 1 when it finds a difference")
					Expect(out).To(ContainSubstring("+firstName: Changed"))
				}
				Expect(strings.Contains(out, "panic")).To(BeFalse(), out)
			}
			after := stored("h-diff")
			Expect(after.Spec).To(Equal(before.Spec))
			Expect(after.ResourceVersion).To(Equal(before.ResourceVersion))
		})
	})

	Describe("labelSelector (4)", func() {
		It("matches only the labels the caller may see", func() {
			u := makeUser("h-labelled", 311, "acme")
			Expect(k8sClient.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"clearance":"secret"}}}`)))).To(Succeed())
			selector := "?labelSelector=" + url.QueryEscape("clearance=secret")
			Eventually(func() []string { return do(as("admin"), "GET", base+selector, nil).Names() }).Should(Equal([]string{"h-labelled"}))
			Expect(do(as("h-labelled"), "GET", base+selector, nil).Names()).To(Equal([]string{"h-labelled"}), "a user sees their own labels")

			By("a member who sees h-labelled only in the basic view")
			r := do(as("dave"), "GET", base+"?username=h-labelled", nil)
			Expect(r.Names()).To(Equal([]string{"h-labelled"}))
			Expect(r.JSON()["items"].([]any)[0].(map[string]any)["metadata"]).NotTo(HaveKey("labels"))
			r = do(as("dave"), "GET", base+selector, nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.JSON()["items"]).To(BeEmpty())
			Expect(r.JSON()["count"]).To(BeNumerically("==", 0))
			r = do(as("dave"), "GET", base+"?username=h-labelled&labelSelector="+url.QueryEscape("!clearance"), nil)
			Expect(r.Names()).To(Equal([]string{"h-labelled"}), "to dave, h-labelled has no labels at all")
		})
	})

	Describe("watch refusals (7)", func() {
		DescribeTable("refuses a watch in an organization the caller may not use before the stream starts, as a list does",
			func(caller, query string, code int, message string) {
				list := do(as(caller), "GET", base+"?"+query, nil)
				Expect(list.Code).To(Equal(code), string(list.Body))
				Expect(list.Message()).To(Equal(message))
				r := do(as(caller), "GET", base+"?watch=1&"+query, nil)
				Expect(r.Code).To(Equal(code), string(r.Body))
				Expect(r.Message()).To(Equal(message))
			},
			Entry("not a member", "frank", "org=acme", 403, "You are not an active member of the `acme` organization."),
			Entry("a pending invitee", "grace", "org=acme", 403, "You are not an active member of the `acme` organization."),
			Entry("an unknown organization", "alice", "org=nosuchorg", 404, "nosuchorg organization does not exist."),
			Entry("an unknown organization id", "alice", "org_id=999", 404, "999 organization does not exist."),
		)
	})

	Describe("watch resumed from a resourceVersion (3)", func() {
		It("replays ADDED, MODIFIED and DELETED exactly as a live watch sent them, per caller", func() {
			makeOrg("hlab", 61)
			makeUser("h-rwatcher", 331, "hlab")
			makeUser("h-rpeer", 332, "hlab")
			makeUser("h-rgone", 333, "hlab")
			rv := do(as("admin"), "GET", base, nil).JSON()["metadata"].(map[string]any)["resourceVersion"].(string)
			adminLive := watchUsers(as("admin"), "resourceVersion="+rv)
			memberLive := watchUsers(as("h-rwatcher"), "resourceVersion="+rv)

			By("creating and deleting a user, deleting a user and removing a membership")
			makeUser("h-rtemp", 334)
			Expect(k8sClient.Delete(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "h-rtemp"}})).To(Succeed())
			Expect(deleteMembership("hlab", "h-rgone")).To(Succeed())
			Expect(k8sClient.Delete(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "h-rgone"}})).To(Succeed())
			Expect(deleteMembership("hlab", "h-rpeer")).To(Succeed())
			Eventually(adminLive.summary).Should(ContainElements("DELETED h-rtemp", "DELETED h-rgone"))
			Eventually(memberLive.summary).Should(ContainElements("DELETED h-rgone", "DELETED h-rpeer"))

			By("resuming from the same resourceVersion after the fact")
			adminResumed := watchUsers(as("admin"), "resourceVersion="+rv)
			memberResumed := watchUsers(as("h-rwatcher"), "resourceVersion="+rv)
			Eventually(adminResumed.summary).Should(Equal(adminLive.summary()))
			Eventually(memberResumed.summary).Should(Equal(memberLive.summary()))
			Expect(adminResumed.summary()).To(ContainElements("ADDED h-rtemp", "DELETED h-rtemp", "DELETED h-rgone"))
			Expect(memberResumed.summary()).To(ContainElements("DELETED h-rgone", "DELETED h-rpeer"))
			Consistently(memberResumed.summary, "1s").ShouldNot(ContainElement(ContainSubstring("h-rtemp")),
				"a member sees nothing of users outside hlab")
		})
	})

	Describe("open watches follow the caller's rights (5)", func() {
		It("narrows a demoted administrator's watch and ends a deactivated user's", func() {
			u := makeUser("h-demoted", 341)
			Expect(k8sClient.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"isSuperuser":true}}`)))).To(Succeed())
			Eventually(func() int { return len(do(as("h-demoted"), "GET", base, nil).Names()) }).Should(BeNumerically(">", 1))
			s := watchUsers(as("h-demoted"), "")
			Eventually(s.summary).Should(ContainElements("ADDED h-demoted", "ADDED frank", "ADDED alice"))
			for _, e := range s.Events() {
				if e.Name == "frank" {
					Expect(e.Object).To(HaveKey("email"), "an administrator's watch shows the full view")
				}
			}
			n := len(s.Events())

			By("taking away the administrator's rights")
			Expect(k8sClient.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"isSuperuser":false}}`)))).To(Succeed())
			Eventually(s.summary).Should(ContainElements("DELETED frank", "DELETED alice"))
			Expect(s.summary()[n:]).NotTo(ContainElement("DELETED h-demoted"))
			m := len(s.Events())
			Expect(k8sClient.Patch(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "frank"}},
				client.RawPatch(types.MergePatchType, []byte(`{"spec":{"lastName":"Zhang-Watched"}}`)))).To(Succeed())
			DeferCleanup(func() {
				Expect(k8sClient.Patch(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "frank"}},
					client.RawPatch(types.MergePatchType, []byte(`{"spec":{"lastName":"Zhang"}}`)))).To(Succeed())
			})
			Consistently(func() []string { return s.summary()[m:] }, "1s").ShouldNot(ContainElement("MODIFIED frank"))

			By("deactivating the user")
			Expect(k8sClient.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"isActive":false}}`)))).To(Succeed())
			Eventually(func(g Gomega) {
				ev := s.Events()
				last := ev[len(ev)-1]
				g.Expect(last.Type).To(Equal("ERROR"))
				g.Expect(last.Object).To(HaveKeyWithValue("code", BeNumerically("==", 403)))
				g.Expect(last.Object).To(HaveKeyWithValue("message", ContainSubstring("the user account is inactive")))
			}).Should(Succeed())
			Eventually(s.ended).Should(BeTrue(), "the stream ends")
		})
	})

	Describe("reserved names (10)", func() {
		DescribeTable("refuses to create a user named self through the directory, with a 422 naming metadata.name",
			func(body, name string) {
				r := do(as("admin"), "POST", base, []byte(body), "Content-Type", "application/json")
				Expect(r.Code).To(Equal(422), string(r.Body))
				Expect(r.Message()).To(Equal(`User.directory.roster.dev "` + name + `" is invalid: metadata.name: Invalid value: "` + name +
					`": the name is reserved: users/self and users/~ name the caller's own user`))
				Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: "self"}, &iamv1alpha1.User{}))).To(BeTrue())
			},
			Entry("by metadata.name", `{"apiVersion":"directory.roster.dev/v1alpha1","kind":"User","metadata":{"name":"self"},"username":"selfie"}`, "self"),
			Entry("by a username that becomes the name", `{"apiVersion":"directory.roster.dev/v1alpha1","kind":"User","username":"self"}`, "self"),
			Entry("as ~", `{"apiVersion":"directory.roster.dev/v1alpha1","kind":"User","metadata":{"name":"~"},"username":"tilde"}`, "~"),
		)

		It("refuses a User named self on the CRD", func() {
			err := k8sClient.Create(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "self"}})
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
			Expect(err.Error()).To(ContainSubstring("metadata.name self is reserved: users/self names the caller's own user in the directory"))
		})
	})

	Describe("server-side apply of a bad configuration (8)", func() {
		DescribeTable("answers 422 naming the field, and changes nothing",
			func(body, field string) {
				makeUser("h-apply", 351)
				before := stored("h-apply")
				r := do(as("admin"), "PATCH", base+"/h-apply?fieldManager=hardening", []byte(body), "Content-Type", "application/apply-patch+yaml")
				Expect(r.Code).To(Equal(422), string(r.Body))
				Expect(r.Message()).To(ContainSubstring(field))
				Expect(stored("h-apply").Spec).To(Equal(before.Spec))
			},
			Entry("an unknown field", "apiVersion: directory.roster.dev/v1alpha1\nkind: User\nmetadata:\n  name: h-apply\nnickname: hh\n", "nickname"),
			Entry("a mistyped field", "apiVersion: directory.roster.dev/v1alpha1\nkind: User\nmetadata:\n  name: h-apply\nid: seven\n", "id"),
			Entry("a mistyped boolean", "apiVersion: directory.roster.dev/v1alpha1\nkind: User\nmetadata:\n  name: h-apply\nisActive: maybe\n", "isActive"),
			Entry("a list where a string belongs", "apiVersion: directory.roster.dev/v1alpha1\nkind: User\nmetadata:\n  name: h-apply\nfirstName: [a, b]\n", "firstName"),
		)
	})

	Describe("patches that do not apply (found by the fuzz)", func() {
		It("answers a strategic merge patch with an unknown directive with a 400", func() {
			r := do(as("bob"), "PATCH", base+"/bob", []byte(`{"$patch":"dElete"}`), "Content-Type", "application/strategic-merge-patch+json")
			Expect(r.Code).To(Equal(400), string(r.Body))
			Expect(r.Message()).To(Equal("the patch does not apply: unknown patch type: dElete in map: map[$patch:dElete]"))
		})
	})

	Describe("very long queries (9)", func() {
		// status sends a query of n bytes through kube-apiserver over HTTP/1.1
		// or HTTP/2. Past kube-apiserver's own limit (1 MiB, and 4 KiB more
		// over HTTP/1.1) kube-apiserver refuses the request itself: the
		// HTTP/2 client does not send it, and over HTTP/1.1 the connection may
		// close before the client reads the 431. Those give status 0.
		status := func(n int, proto string) int {
			cfg := as("alice")
			cfg.NextProtos = []string{proto}
			hc, err := rest.HTTPClientFor(cfg)
			Expect(err).NotTo(HaveOccurred())
			req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(cfg.Host, "/")+base+"?search="+strings.Repeat("a", n), nil)
			Expect(err).NotTo(HaveOccurred())
			resp, err := hc.Do(req)
			if err != nil {
				Expect(n).To(BeNumerically(">=", 1<<20-8<<10), "%s: %s", proto, err.Error()[max(0, len(err.Error())-120):])
				return 0
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			return resp.StatusCode
		}

		DescribeTable("answers a 4xx, never a 5xx, whatever the length of the query",
			func(n int, want gtypes.GomegaMatcher) {
				for _, proto := range []string{"http/1.1", "h2"} {
					if code := status(n, proto); code != 0 {
						Expect(code).To(want, "%d bytes over %s", n, proto)
					}
				}
			},
			Entry("8 KiB", 8<<10, Equal(200)),
			Entry("the documented limit", 64<<10-len("search="), Equal(200)),
			Entry("just past the documented limit", 64<<10, Equal(414)),
			Entry("512 KiB", 512<<10, Equal(414)),
			Entry("1 MiB", 1<<20, SatisfyAny(Equal(414), Equal(431))),
			Entry("2 MiB", 2<<20, Equal(431)),
		)

		It("answers every length around kube-apiserver's limit with a 4xx", func() {
			for n := 1<<20 - 1024; n <= 1<<20+512; n += 128 {
				for _, proto := range []string{"http/1.1", "h2"} {
					if code := status(n, proto); code != 0 {
						Expect(code).To(SatisfyAny(Equal(414), Equal(431)), "%d bytes over %s", n, proto)
					}
				}
			}
		})

		It("names the limit", func() {
			r := do(as("alice"), "GET", base+"?search="+strings.Repeat("a", 64<<10+1), nil)
			Expect(r.Code).To(Equal(414), string(r.Body))
			Expect(r.Message()).To(Equal("the request's query is longer than the directory accepts (65536 bytes)"))
		})
	})
})
