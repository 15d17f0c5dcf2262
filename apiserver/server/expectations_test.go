package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// What users of the users API and of kubectl expect: one spec (or table) per
// item of the list they reported.
var _ = Describe("What clients expect", func() {
	Describe("the full view carries every field (1)", func() {
		It("has groups: [] and lastLogin: null for a user with neither, and the basic view has neither key", func() {
			makeUser("e-bare", 401, "acme")
			r := do(as("admin"), "GET", base+"/e-bare", nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.JSON()).To(HaveKeyWithValue("groups", BeEmpty()))
			Expect(r.JSON()["groups"]).NotTo(BeNil())
			Expect(r.JSON()).To(HaveKeyWithValue("lastLogin", BeNil()))
			Expect(string(r.Body)).To(ContainSubstring(`"groups":[]`))
			Expect(string(r.Body)).To(ContainSubstring(`"lastLogin":null`))

			item := func(r response) map[string]any {
				for _, it := range r.JSON()["items"].([]any) {
					if it.(map[string]any)["metadata"].(map[string]any)["name"] == "e-bare" {
						return it.(map[string]any)
					}
				}
				return nil
			}
			Expect(item(do(as("admin"), "GET", base+"?username=e-bare", nil))).To(And(HaveKey("groups"), HaveKey("lastLogin")))
			basic := item(do(as("alice"), "GET", base+"?username=e-bare", nil))
			Expect(basic).NotTo(BeNil())
			Expect(basic).NotTo(HaveKey("groups"))
			Expect(basic).NotTo(HaveKey("lastLogin"))
			Expect(basic).NotTo(HaveKey("email"))
		})
	})

	Describe("lastLogin follows the account (2)", func() {
		It("records lastLogin for a user deleted and re-created under the same name", func() {
			makeUser("e-reborn", 402)
			Expect(do(as("e-reborn"), "GET", base+"/self", nil).Code).To(Equal(200))
			Eventually(func() *metav1.Time { return stored("e-reborn").Status.LastLogin }).ShouldNot(BeNil())

			Expect(k8sClient.Delete(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "e-reborn"}})).To(Succeed())
			Eventually(func() int { return do(as("admin"), "GET", base+"/e-reborn", nil).Code }).Should(Equal(404))
			makeUser("e-reborn", 403)
			Expect(stored("e-reborn").Status.LastLogin).To(BeNil())
			Expect(do(as("e-reborn"), "GET", base+"/self", nil).Code).To(Equal(200))
			Eventually(func() *metav1.Time { return stored("e-reborn").Status.LastLogin }).ShouldNot(BeNil())
		})
	})

	Describe("a later claimant never blocks the rightful user (3)", func() {
		It("lets the oldest holder of a username, and administrators, write its record", func() {
			makeUser("e-rightful", 404)
			claimant := &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "e-rightful-later"},
				Spec: iamv1alpha1.UserSpec{Username: "e-rightful", FirstName: "Late"}}
			Expect(k8sClient.Create(ctx, claimant)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, claimant))).To(Succeed()) })
			Eventually(func() int { return do(as("admin"), "GET", base+"/e-rightful-later", nil).Code }).Should(Equal(200))

			r := do(as("e-rightful"), "PATCH", base+"/self", []byte(`{"firstName":"Rightful"}`))
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.JSON()).To(HaveKeyWithValue("metadata", HaveKeyWithValue("name", "e-rightful")))
			r = do(as("admin"), "PATCH", base+"/e-rightful", []byte(`{"lastName":"Holder"}`))
			Expect(r.Code).To(Equal(200), string(r.Body))

			By("a write that leaves the later claimant's username as it is")
			r = do(as("admin"), "PATCH", base+"/e-rightful-later", []byte(`{"firstName":"Later"}`))
			Expect(r.Code).To(Equal(200), string(r.Body))

			By("taking the name for yet another user")
			r = do(as("admin"), "PATCH", base+"/bob", []byte(`{"username":"e-rightful"}`))
			Expect(r.Code).To(Equal(422), string(r.Body))
			Expect(r.Message()).To(Equal(`User.directory.roster.dev "bob" is invalid: username: Duplicate value: "e-rightful"`))
		})
	})

	Describe("a membership of an organization that does not exist (4)", func() {
		It("is no organization: not on self, and the user stays in the personal workspace", func() {
			makeUser("e-trent", 405)
			Expect(createMembership(seat{"e-ghost", "e-trent", iamv1alpha1.RoleWorker, false})).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(deleteMembership("e-ghost", "e-trent"))).To(Succeed()) })
			Eventually(func() []string { return do(as("admin"), "GET", base+"?org=&username=e-trent", nil).Names() }).Should(Equal([]string{"e-trent"}))
			Expect(do(as("e-trent"), "GET", base+"/self", nil).JSON()["organizations"]).To(BeEmpty())
			Expect(do(as("e-trent"), "GET", base+"?org=", nil).Names()).To(Equal([]string{"e-trent"}))

			By("creating the organization")
			makeOrg("e-ghost", 62)
			Eventually(func() []any {
				orgs, _ := do(as("e-trent"), "GET", base+"/self", nil).JSON()["organizations"].([]any)
				return orgs
			}).Should(ConsistOf(HaveKeyWithValue("slug", "e-ghost")))
			Expect(do(as("e-trent"), "GET", base+"?org=", nil).JSON()["items"]).To(BeEmpty())
			Expect(do(as("admin"), "GET", base+"?org=&username=e-trent", nil).JSON()["items"]).To(BeEmpty())

			By("deleting it again")
			Expect(k8sClient.Delete(ctx, &iamv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: "e-ghost"}})).To(Succeed())
			Eventually(func() []string { return do(as("e-trent"), "GET", base+"?org=", nil).Names() }).Should(Equal([]string{"e-trent"}))
			Expect(do(as("e-trent"), "GET", base+"/self", nil).JSON()["organizations"]).To(BeEmpty())
		})
	})

	Describe("parameters as clients send them (5)", func() {
		DescribeTable("reads is_active as Python and other clients write booleans",
			func(value string, active bool) {
				r := do(as("admin"), "GET", base+"?username=ivan&is_active="+value, nil)
				Expect(r.Code).To(Equal(200), string(r.Body))
				if active {
					Expect(r.JSON()["items"]).To(BeEmpty())
				} else {
					Expect(r.Names()).To(Equal([]string{"ivan"}))
				}
			},
			Entry("True", "True", true), Entry("False", "False", false),
			Entry("1", "1", true), Entry("0", "0", false),
			Entry("true", "true", true), Entry("false", "false", false),
		)

		It("still refuses anything else for is_active", func() {
			r := do(as("admin"), "GET", base+"?is_active=yes", nil)
			Expect(r.Code).To(Equal(400), string(r.Body))
		})

		It("reads org_id= as the personal workspace, like org=", func() {
			a := do(as("admin"), "GET", base+"?org=", nil)
			b := do(as("admin"), "GET", base+"?org_id=", nil)
			Expect(b.Code).To(Equal(200), string(b.Body))
			Expect(b.Names()).To(Equal(a.Names()))
			Expect(do(as("heidi"), "GET", base+"?org_id=", nil).Names()).To(Equal([]string{"heidi"}))
		})

		It("answers page_size=all with the largest page the server allows, and next when there is more", func() {
			r := do(as("admin"), "GET", base+"?page_size=all", nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			count := int(r.JSON()["count"].(float64))
			Expect(r.JSON()["items"]).To(HaveLen(min(count, 50)))
			Expect(r.JSON()["next"] != nil).To(Equal(count > 50))

			r = do(as("admin"), "GET", base+"?page_size=all&search=a", nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
		})

		It("names an unknown organization in plain text", func() {
			r := do(as("alice"), "GET", base+"?org=nosuchorg", nil)
			Expect(r.Code).To(Equal(404), string(r.Body))
			Expect(r.Message()).To(Equal("nosuchorg organization does not exist."))
		})
	})

	Describe("kubectl wait (6)", func() {
		It("waits for the Ready condition of a user through the directory, as the user and as an administrator", func() {
			makeUser("e-ready", 406)
			Expect(do(as("e-ready"), "GET", base+"/self", nil).Code).To(Equal(200))
			done := make(chan string, 2)
			for _, caller := range []string{"e-ready", "admin"} {
				go func() {
					defer GinkgoRecover()
					out, err := kubectl(as(caller), "wait", "--for=condition=Ready", "user/e-ready", "--timeout=60s")
					done <- fmt.Sprintf("%s: %v %s", caller, err, out)
				}()
			}
			Eventually(func(g Gomega) {
				u := stored("e-ready")
				meta.SetStatusCondition(&u.Status.Conditions, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready", Message: "User is ready"})
				u.Status.ObservedGeneration = u.Generation
				g.Expect(k8sClient.Status().Update(ctx, u)).To(Succeed())
			}).Should(Succeed())
			for range 2 {
				var out string
				Eventually(done, time.Minute).Should(Receive(&out))
				Expect(out).To(MatchRegexp(`^[a-z-]+: <nil> user.directory.roster.dev/e-ready condition met`))
			}
			r := do(as("e-ready"), "GET", base+"/self", nil)
			Expect(r.JSON()).To(HaveKeyWithValue("status", HaveKeyWithValue("conditions", ContainElement(HaveKeyWithValue("type", "Ready")))))
			Expect(do(as("alice"), "GET", base+"?username=e-ready", nil).Body).NotTo(ContainSubstring("conditions"))
		})
	})

	Describe("client-side apply, replace and label (7)", func() {
		manifest := func(first string) string {
			return "apiVersion: directory.roster.dev/v1alpha1\nkind: User\nmetadata:\n  name: e-applied\nusername: e-applied\nfirstName: " + first + "\nlastName: Last\nemail: e-applied@example.com\n"
		}

		It("applies a user's own manifest client-side, twice, keeping kubectl's annotation on the CRD", func() {
			makeUser("e-applied", 407)
			for _, first := range []string{"Applied", "Reapplied"} {
				out, err := kubectlIn(as("e-applied"), manifest(first), "apply", "-f", "-")
				Expect(err).NotTo(HaveOccurred(), out)
				Expect(out).To(ContainSubstring("user.directory.roster.dev/e-applied"))
				Expect(stored("e-applied").Spec.FirstName).To(Equal(first))
			}
			Expect(stored("e-applied").Annotations).To(HaveKey("kubectl.kubernetes.io/last-applied-configuration"))
			out, err := kubectlIn(as("admin"), manifest("ByAdmin"), "apply", "-f", "-")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(stored("e-applied").Spec.FirstName).To(Equal("ByAdmin"))
		})

		It("replaces a user with what kubectl get returned, as the user and as an administrator", func() {
			makeUser("e-replace", 408, "acme")
			Expect(do(as("e-replace"), "GET", base+"/self", nil).Code).To(Equal(200))
			for _, caller := range []string{"e-replace", "admin"} {
				got, err := kubectl(as(caller), "get", "users.directory.roster.dev", "e-replace", "-o", "yaml")
				Expect(err).NotTo(HaveOccurred(), got)
				if caller == "e-replace" {
					Expect(got).To(ContainSubstring("organizations:"))
				}
				edited := strings.Replace(got, "firstName: ", "firstName: R", 1)
				out, err := kubectlIn(as(caller), edited, "replace", "-f", "-")
				Expect(err).NotTo(HaveOccurred(), out)
				Expect(out).To(ContainSubstring("user.directory.roster.dev/e-replace replaced"))
			}
			Expect(stored("e-replace").Spec.FirstName).To(Equal("RRFirst"))
		})

		It("lets an administrator label and annotate a user, and nobody touch Roster's own annotations", func() {
			makeUser("e-label", 409)
			out, err := kubectl(as("admin"), "label", "users.directory.roster.dev", "e-label", "team=platform")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(stored("e-label").Labels).To(HaveKeyWithValue("team", "platform"))
			out, err = kubectl(as("admin"), "annotate", "users.directory.roster.dev", "e-label", "example.com/note=hello")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(stored("e-label").Annotations).To(HaveKeyWithValue("example.com/note", "hello"))

			By("the user themselves")
			r := do(as("e-label"), "PATCH", base+"/self", []byte(`{"metadata":{"labels":{"team":"mine"}}}`))
			Expect(r.Code).To(Equal(403), string(r.Body))
			Expect(r.Message()).To(Equal(`users.directory.roster.dev "e-label" is forbidden: only administrators may change metadata.labels`))

			By("Roster's own annotation")
			before := stored("e-label")
			Expect(before.Annotations).NotTo(HaveKey("iam.roster.dev/id"))
			for _, caller := range []string{"admin", "e-label"} {
				r = do(as(caller), "PATCH", base+"/e-label", []byte(`{"metadata":{"annotations":{"iam.roster.dev/id":"1"}}}`))
				Expect(r.Code).To(Equal(422), string(r.Body))
				Expect(r.Message()).To(Equal(`User.directory.roster.dev "e-label" is invalid: metadata.annotations[iam.roster.dev/id]: Forbidden: this field cannot be written through the directory`))
			}
			Expect(stored("e-label").Annotations).To(Equal(before.Annotations))
		})

		It("keeps Roster's own annotations on a write", func() {
			u := makeUser("e-keep", 410)
			Expect(k8sClient.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"iam.roster.dev/id":"410"}}}`)))).To(Succeed())
			Eventually(func() int { return do(as("admin"), "GET", base+"/e-keep", nil).Code }).Should(Equal(200))
			r := do(as("admin"), "GET", base+"/e-keep", nil)
			Expect(string(r.Body)).NotTo(ContainSubstring("iam.roster.dev/id"), "the view leaves Roster's own annotations out")
			out, err := kubectl(as("admin"), "annotate", "users.directory.roster.dev", "e-keep", "example.com/note=x")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(stored("e-keep").Annotations).To(Equal(map[string]string{"iam.roster.dev/id": "410", "example.com/note": "x"}))
		})
	})

	Describe("watch sends only what the watcher can see change (8)", func() {
		It("sends one MODIFIED for one edit, and nothing for another user's lastLogin", func() {
			makeOrg("elab", 63)
			makeUser("e-watcher", 411, "elab")
			makeUser("e-editor", 412, "elab")
			s := watchUsers(as("e-watcher"), "")
			Eventually(s.summary).Should(ContainElements("ADDED e-watcher", "ADDED e-editor"))
			n := len(s.Events())

			By("e-editor signing in")
			Expect(do(as("e-editor"), "GET", base+"/self", nil).Code).To(Equal(200))
			Eventually(func() *metav1.Time { return stored("e-editor").Status.LastLogin }).ShouldNot(BeNil())
			Consistently(func() []string { return s.summary()[n:] }, "1s").Should(BeEmpty())

			By("e-editor changing their first name")
			Expect(do(as("e-editor"), "PATCH", base+"/self", []byte(`{"firstName":"Edited"}`)).Code).To(Equal(200))
			Eventually(func() []string { return s.summary()[n:] }).Should(Equal([]string{"MODIFIED e-editor"}))
			Consistently(func() []string { return s.summary()[n:] }, "1s").Should(Equal([]string{"MODIFIED e-editor"}))
			Expect(s.Events()[n].Object).To(HaveKeyWithValue("firstName", "Edited"))
		})
	})

	Describe("continue tokens (11)", func() {
		decode := func(token string) map[string]any {
			GinkgoHelper()
			b, err := base64.RawURLEncoding.DecodeString(token)
			Expect(err).NotTo(HaveOccurred())
			var m map[string]any
			Expect(json.Unmarshal(b, &m)).To(Succeed(), string(b))
			return m
		}

		It("hold no names, only the last row's ID and the next offset", func() {
			r := do(as("admin"), "GET", base+"?limit=3&sort=username&username=", nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			token := r.JSON()["metadata"].(map[string]any)["continue"].(string)
			m := decode(token)
			Expect(m).To(HaveLen(2))
			items := r.JSON()["items"].([]any)
			last := items[len(items)-1].(map[string]any)
			Expect(m).To(HaveKeyWithValue("id", last["id"]))
			Expect(m).To(HaveKeyWithValue("offset", BeNumerically("==", 3)))
			plain, _ := base64.RawURLEncoding.DecodeString(token)
			for _, it := range items {
				for _, f := range []string{"username", "firstName", "lastName"} {
					Expect(string(plain)).NotTo(ContainSubstring(it.(map[string]any)[f].(string)))
				}
			}
			next := do(as("admin"), "GET", base+"?limit=3&sort=username&continue="+url.QueryEscape(token), nil)
			Expect(next.Code).To(Equal(200), string(next.Body))
			all := do(as("admin"), "GET", base+"?sort=username", nil).Names()
			Expect(next.Names()).To(Equal(all[3:6]))
		})

		It("never place a forged position at a user the caller cannot see", func() {
			first := do(as("dave"), "GET", base+"?limit=2&sort=username", nil)
			Expect(first.Code).To(Equal(200), string(first.Body))
			forged := base64.RawURLEncoding.EncodeToString([]byte(`{"id":9,"offset":0}`)) // heidi, outside dave's view
			r := do(as("dave"), "GET", base+"?limit=2&sort=username&continue="+forged, nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.Names()).To(Equal(first.Names()), "the position falls back to the offset")
		})
	})
})
