package server_test

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/internal/testenv"
)

// The read specs cover docs/users-api.md sections 4 (GET), 5 (list query parameters) and
// 6 (visibility) through kube-apiserver. They never change the seeded data;
// other specs of the package may add users, so expectations about the whole
// directory look only at the seeded users (seededNames), and the paging
// specs work on users of their own, all named with the prefix "page-".

// caller names who sends a request: a Kubernetes user name and groups.
type caller struct {
	user   string
	groups []string
}

func (c caller) cfg() *rest.Config { return as(c.user, c.groups...) }

var (
	admin    = caller{user: "admin"}
	alice    = caller{user: "alice"}   // owner of acme
	bob      = caller{user: "bob"}     // maintainer of acme
	carol    = caller{user: "carol"}   // supervisor of acme
	dave     = caller{user: "dave"}    // worker in acme and globex
	erin     = caller{user: "erin"}    // owner of globex
	grace    = caller{user: "grace"}   // pending invitee of acme
	heidi    = caller{user: "heidi"}   // in no organization
	mallory  = caller{user: "mallory"} // maps to no User
	masters  = caller{user: "operator", groups: []string{"system:masters"}}
	everyone = []string{"judy", "ivan", "heidi", "grace", "frank", "erin", "dave", "carol", "bob", "alice", "admin"}
	// acmeActive are acme's active members, newest first; acmeAll adds
	// the pending invitee grace.
	acmeActive = []string{"judy", "dave", "carol", "bob", "alice"}
	acmeAll    = []string{"judy", "grace", "dave", "carol", "bob", "alice"}
)

// list sends GET users<query> and expects a 200.
func list(c caller, query string, header ...string) response {
	GinkgoHelper()
	r := do(c.cfg(), "GET", base+query, nil, header...)
	Expect(r.Code).To(Equal(200), string(r.Body))
	return r
}

// refused sends GET users<query> and expects the status code and message.
func refused(c caller, query string, code int, message string, header ...string) {
	GinkgoHelper()
	r := do(c.cfg(), "GET", base+query, nil, header...)
	Expect(r.Code).To(Equal(code), string(r.Body))
	Expect(r.Message()).To(Equal(message))
	Expect(r.JSON()["kind"]).To(Equal("Status"))
}

// seededNames lists the item names of a list body that belong to the seeded
// directory, in order.
func seededNames(r response) []string {
	GinkgoHelper()
	out := []string{}
	for _, n := range r.Names() {
		if slices.ContainsFunc(people, func(p testenv.Person) bool { return p.Name == n }) {
			out = append(out, n)
		}
	}
	return out
}

// allNames is Names with an empty list as an empty slice.
func allNames(r response) []string {
	GinkgoHelper()
	return append([]string{}, r.Names()...)
}

func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

func notFoundMessage(name string) string {
	return fmt.Sprintf("users.directory.roster.dev %q not found", name)
}

var _ = Describe("Reading the directory", func() {
	Describe("visibility without an organization context (docs/users-api.md section 6)", func() {
		DescribeTable("lists exactly the users the caller may see",
			func(c caller, want []string) {
				r := list(c, "")
				Expect(seededNames(r)).To(Equal(want))
				Expect(r.JSON()["count"]).To(BeNumerically("==", len(r.Names())))
			},
			Entry("an administrator sees everyone", admin, everyone),
			Entry("a member of system:masters with no User sees everyone", masters, everyone),
			Entry("an owner sees acme's active members", alice, acmeActive),
			Entry("a supervisor sees acme's active members", carol, acmeActive),
			Entry("a worker in two organizations sees both", dave, []string{"judy", "frank", "erin", "dave", "carol", "bob", "alice"}),
			Entry("globex's owner sees globex", erin, []string{"frank", "erin", "dave"}),
			Entry("a pending invitee sees only themselves", grace, []string{"grace"}),
			Entry("a user in no organization sees only themselves", heidi, []string{"heidi"}),
		)

		It("shows an unmapped caller nobody", func() {
			r := list(mallory, "")
			Expect(allNames(r)).To(BeEmpty())
			Expect(r.JSON()["count"]).To(BeNumerically("==", 0))
		})

		It("refuses an inactive caller", func() {
			r := do(as("ivan"), "GET", base, nil)
			Expect(r.Code).To(Equal(403), string(r.Body))
			Expect(r.Message()).To(HaveSuffix("is forbidden: the user account is inactive"))
			r = do(as("ivan"), "GET", base+"/self", nil)
			Expect(r.Code).To(Equal(403), string(r.Body))
			Expect(r.Message()).To(HaveSuffix("is forbidden: the user account is inactive"))
		})
	})

	Describe("organization context (docs/users-api.md section 6)", func() {
		DescribeTable("lists the organization's members the caller may see",
			func(c caller, query string, want []string, header ...string) {
				r := list(c, query, header...)
				Expect(seededNames(r)).To(Equal(want))
			},
			Entry("an administrator sees every membership state", admin, "?org=acme", acmeAll),
			Entry("a system:masters member sees every membership state", masters, "?org=acme", acmeAll),
			Entry("the owner sees pending invitees", alice, "?org=acme", acmeAll),
			Entry("a maintainer sees pending invitees", bob, "?org=acme", acmeAll),
			Entry("a supervisor sees active members only", carol, "?org=acme", acmeActive),
			Entry("a worker sees active members only", dave, "?org=acme", acmeActive),
			Entry("a worker sees the other organization too", dave, "?org=globex", []string{"frank", "erin", "dave"}),
			Entry("by org_id", alice, "?org_id=1", acmeAll),
			Entry("by org_id, for a worker", dave, "?org_id=2", []string{"frank", "erin", "dave"}),
			Entry("by the X-Organization header", alice, "", acmeAll, "X-Organization", "acme"),
			Entry("by org and an equal header", carol, "?org=acme", acmeActive, "X-Organization", "acme"),
			Entry("by org given twice with the same value", carol, "?org=acme&org=acme", acmeActive),
			Entry("an organization without members", admin, "?org=vacant", []string{}),
			Entry("with filters on top", alice, "?org=acme&search=li&sort=username", []string{"alice", "dave", "grace"}),
		)

		It("counts only the organization's members", func() {
			r := list(alice, "?org=acme&page_size=2")
			Expect(seededNames(r)).To(Equal([]string{"judy", "grace"}))
			Expect(r.JSON()["count"]).To(BeNumerically(">=", 6))
		})

		DescribeTable("refuses a caller who is not an active member with a 403",
			func(c caller, query string, org string, header ...string) {
				refused(c, query, 403, "You are not an active member of the `"+org+"` organization.", header...)
			},
			Entry("a member of another organization", erin, "?org=acme", "acme"),
			Entry("a pending invitee", grace, "?org=acme", "acme"),
			Entry("a user in no organization", heidi, "?org=acme", "acme"),
			Entry("an unmapped caller", mallory, "?org=acme", "acme"),
			Entry("by org_id, with the organization's slug", erin, "?org_id=1", "acme"),
			Entry("by header", heidi, "", "globex", "X-Organization", "globex"),
			Entry("an organization without members", alice, "?org=vacant", "vacant"),
		)

		DescribeTable("answers an unknown organization with a 404 before any 403",
			func(c caller, query, message string, header ...string) {
				refused(c, query, 404, message, header...)
			},
			Entry("unknown slug, administrator", admin, "?org=nope", "nope organization does not exist."),
			Entry("unknown slug, non-member", heidi, "?org=nope", "nope organization does not exist."),
			Entry("unknown id", alice, "?org_id=99", "99 organization does not exist."),
			Entry("unknown slug in the header", alice, "", "nope organization does not exist.", "X-Organization", "nope"),
		)

		DescribeTable("rejects conflicting organization parameters with a 400",
			func(query, message string, header ...string) {
				refused(admin, query, 400, message, header...)
				refused(alice, query, 400, message, header...)
			},
			Entry("org with org_id", "?org=acme&org_id=1", "org_id: can't be used together with org or the X-Organization header"),
			Entry("org_id with the header", "?org_id=1", "org_id: can't be used together with org or the X-Organization header", "X-Organization", "acme"),
			Entry("org and a different header", "?org=acme", `org: "acme" differs from the X-Organization header "globex"`, "X-Organization", "globex"),
			Entry("a non-numeric org_id", "?org_id=acme", `org_id: "acme" is not a number`),
			Entry("org twice with different values", "?org=acme&org=globex", "org: given more than once with different values"),
			Entry("org_id twice with different values", "?org_id=1&org_id=2", "org_id: given more than once with different values"),
			Entry("the header twice with different values", "", "X-Organization: given more than once with different values",
				"X-Organization", "acme", "X-Organization", "globex"),
		)

		DescribeTable("org= is the personal workspace",
			func(c caller, query string, want []string, header ...string) {
				r := list(c, query, header...)
				Expect(seededNames(r)).To(Equal(want))
			},
			Entry("an administrator sees the users with no memberships", admin, "?org=", []string{"ivan", "heidi", "admin"}),
			Entry("a system:masters member too", masters, "?org=", []string{"ivan", "heidi", "admin"}),
			Entry("a user with no memberships sees themselves", heidi, "?org=", []string{"heidi"}),
			Entry("an empty header is the personal workspace too", heidi, "", []string{"heidi"}, "X-Organization", ""),
			Entry("a member sees nobody", alice, "?org=", []string{}),
			Entry("a pending invitee has a membership, so sees nobody", grace, "?org=", []string{}),
			Entry("an unmapped caller sees nobody", mallory, "?org=", []string{}),
		)

		It("shows a regular user's personal workspace with nobody else in it", func() {
			r := list(heidi, "?org=")
			Expect(allNames(r)).To(Equal([]string{"heidi"}))
			r = list(alice, "?org=")
			Expect(allNames(r)).To(BeEmpty())
			Expect(r.JSON()["count"]).To(BeNumerically("==", 0))
		})
	})

	Describe("GET users/{name} (docs/users-api.md section 4)", func() {
		It("returns a visible user in the basic view", func() {
			r := do(alice.cfg(), "GET", base+"/bob", nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			m := r.JSON()
			Expect(m["kind"]).To(Equal("User"))
			Expect(m["apiVersion"]).To(Equal("directory.roster.dev/v1alpha1"))
			Expect(m["id"]).To(BeNumerically("==", 3))
			Expect(m["username"]).To(Equal("bob"))
			Expect(m["firstName"]).To(Equal("Bob"))
			Expect(m["lastName"]).To(Equal("Okafor"))
			for _, k := range []string{"email", "isActive", "isStaff", "isSuperuser", "groups", "dateJoined", "lastLogin", "organizations"} {
				Expect(m).NotTo(HaveKey(k))
			}
		})

		It("returns the full view to administrators", func() {
			for _, c := range []caller{admin, masters} {
				r := do(c.cfg(), "GET", base+"/ivan", nil)
				Expect(r.Code).To(Equal(200), string(r.Body))
				m := r.JSON()
				Expect(m["email"]).To(Equal("ivan@example.com"))
				Expect(m["isActive"]).To(BeFalse())
				Expect(m["isSuperuser"]).To(BeFalse())
				Expect(m).To(HaveKey("dateJoined"))
				Expect(m).NotTo(HaveKey("organizations"))
			}
		})

		It("returns the caller's own record by name in the full view", func() {
			r := do(bob.cfg(), "GET", base+"/bob", nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.JSON()["email"]).To(Equal("bob@example.com"))
			Expect(r.JSON()["isActive"]).To(BeTrue())
		})

		It("answers a user the caller may not see exactly like one that does not exist", func() {
			invisible := do(alice.cfg(), "GET", base+"/erin", nil)
			missing := do(alice.cfg(), "GET", base+"/nobody", nil)
			Expect(invisible.Code).To(Equal(404), string(invisible.Body))
			Expect(missing.Code).To(Equal(404), string(missing.Body))
			Expect(invisible.Message()).To(Equal(notFoundMessage("erin")))
			Expect(missing.Message()).To(Equal(notFoundMessage("nobody")))
			Expect(invisible.JSON()["reason"]).To(Equal(missing.JSON()["reason"]))

			By("hiding pending invitees and everyone from an unmapped caller")
			r := do(alice.cfg(), "GET", base+"/grace", nil)
			Expect(r.Code).To(Equal(404), string(r.Body))
			Expect(r.Message()).To(Equal(notFoundMessage("grace")))
			r = do(mallory.cfg(), "GET", base+"/alice", nil)
			Expect(r.Code).To(Equal(404), string(r.Body))
			Expect(r.Message()).To(Equal(notFoundMessage("alice")))
		})

		DescribeTable("looks an all-digits name up as the numeric id",
			func(c caller, path string, code int, want string) {
				r := do(c.cfg(), "GET", base+"/"+path, nil)
				Expect(r.Code).To(Equal(code), string(r.Body))
				if code == 200 {
					Expect(r.JSON()["metadata"].(map[string]any)["name"]).To(Equal(want))
				} else {
					Expect(r.Message()).To(Equal(notFoundMessage(path)))
				}
			},
			Entry("an administrator reads bob by id", admin, "3", 200, "bob"),
			Entry("a member reads a visible user by id", alice, "11", 200, "judy"),
			Entry("an invisible user by id is a 404", alice, "6", 404, ""),
			Entry("an id nobody has is a 404", admin, "999", 404, ""),
			Entry("zero is nobody's id", admin, "0", 404, ""),
			Entry("a signed number is not an id", admin, "+3", 404, ""),
		)

		DescribeTable("self and ~ are the caller's own full record with organizations",
			func(c caller, alias string, name string, orgs []any) {
				r := do(c.cfg(), "GET", base+"/"+alias, nil)
				Expect(r.Code).To(Equal(200), string(r.Body))
				m := r.JSON()
				Expect(m["metadata"].(map[string]any)["name"]).To(Equal(name))
				Expect(m["username"]).To(Equal(name))
				Expect(m["email"]).To(Equal(name + "@example.com"))
				Expect(m["isActive"]).To(BeTrue())
				Expect(m).To(HaveKey("dateJoined"))
				Expect(m["organizations"]).To(Equal(orgs))
			},
			Entry("the owner", alice, "self", "alice", []any{
				map[string]any{"slug": "acme", "id": 1.0, "role": "owner", "active": true},
			}),
			Entry("~ is self", alice, "~", "alice", []any{
				map[string]any{"slug": "acme", "id": 1.0, "role": "owner", "active": true},
			}),
			Entry("a worker in two organizations", dave, "self", "dave", []any{
				map[string]any{"slug": "acme", "id": 1.0, "role": "worker", "active": true},
				map[string]any{"slug": "globex", "id": 2.0, "role": "worker", "active": true},
			}),
			Entry("a pending invitation", grace, "~", "grace", []any{
				map[string]any{"slug": "acme", "id": 1.0, "role": "worker", "active": false},
			}),
			Entry("a user in no organization", heidi, "self", "heidi", []any{}),
			Entry("a superuser", admin, "self", "admin", []any{}),
		)

		It("has no self for a caller with no User", func() {
			for _, c := range []caller{mallory, masters} {
				r := do(c.cfg(), "GET", base+"/self", nil)
				Expect(r.Code).To(Equal(404), string(r.Body))
				Expect(r.Message()).To(Equal(notFoundMessage("self")))
			}
		})
	})

	Describe("views in lists", func() {
		It("shows email and isActive only on the caller's own record", func() {
			for _, it := range list(alice, "").JSON()["items"].([]any) {
				m := it.(map[string]any)
				if m["metadata"].(map[string]any)["name"] == "alice" {
					Expect(m["email"]).To(Equal("alice@example.com"))
					Expect(m["isActive"]).To(BeTrue())
					continue
				}
				Expect(m).NotTo(HaveKey("email"))
				Expect(m).NotTo(HaveKey("isActive"))
				Expect(m).NotTo(HaveKey("organizations"))
			}
		})

		It("shows administrators every record in full", func() {
			for _, it := range list(admin, "?org=acme").JSON()["items"].([]any) {
				m := it.(map[string]any)
				Expect(m).To(HaveKey("email"))
				Expect(m).To(HaveKey("isActive"))
			}
		})

		It("carries count, next, previous and a resourceVersion", func() {
			m := list(alice, "").JSON()
			Expect(m["kind"]).To(Equal("UserList"))
			Expect(m).To(HaveKeyWithValue("next", BeNil()))
			Expect(m).To(HaveKeyWithValue("previous", BeNil()))
			Expect(m["metadata"].(map[string]any)["resourceVersion"]).NotTo(BeEmpty())
		})
	})

	Describe("exact filters, is_active and search (docs/users-api.md section 5)", func() {
		DescribeTable("keeps the matching users",
			func(query string, want []string) {
				Expect(seededNames(list(admin, query))).To(Equal(want))
			},
			Entry("username", q("username", "carol"), []string{"carol"}),
			Entry("username is case-sensitive", q("username", "Carol"), []string{}),
			Entry("first_name", q("first_name", "Grace"), []string{"grace"}),
			Entry("last_name with a non-ASCII letter", q("last_name", "Müller"), []string{"carol"}),
			Entry("last_name is case-sensitive", q("last_name", "müller"), []string{}),
			Entry("last_name must match whole", q("last_name", "Ali"), []string{"grace"}),
			Entry("several exact filters together", q("first_name", "Dave", "last_name", "Alimov"), []string{"dave"}),
			Entry("exact filters that contradict", q("first_name", "Dave", "last_name", "Ali"), []string{}),
			Entry("an empty username is no filter", "?username=", everyone),
			Entry("empty first_name and last_name are no filter", "?first_name=&last_name=", everyone),
			Entry("is_active=false", "?is_active=false", []string{"ivan"}),
			Entry("is_active=true", "?is_active=true", []string{"judy", "heidi", "grace", "frank", "erin", "dave", "carol", "bob", "alice", "admin"}),
			Entry("search over username, first and last name", q("search", "ali"), []string{"grace", "dave", "alice"}),
			Entry("search is case-insensitive", q("search", "ALI"), []string{"grace", "dave", "alice"}),
			Entry("search folds non-ASCII letters", q("search", "müller"), []string{"carol"}),
			Entry("search folds upper-case non-ASCII letters", q("search", "MÜLLER"), []string{"carol"}),
			Entry("search with an accented term", q("search", "garcía"), []string{"judy"}),
			Entry("every term must match, each in any field", q("search", "ali nguyen"), []string{"alice"}),
			Entry("terms split on commas", q("search", "ali,alimov"), []string{"dave"}),
			Entry("terms split on commas and spaces", q("search", "erin, o'brien"), []string{"erin"}),
			Entry("separate terms may match different fields", q("search", "erin o"), []string{"erin"}),
			Entry("a quoted phrase must match inside one field", q("search", `"erin o"`), []string{}),
			Entry("a quoted phrase", q("search", `"o'b"`), []string{"erin"}),
			Entry("search with an empty value is no filter", "?search=", everyone),
			Entry("search with no match", q("search", "zzz"), []string{}),
			Entry("search, filters and is_active together", q("search", "a", "is_active", "true", "last_name", "Petrov"), []string{}),
			Entry("the same value twice is accepted", "?username=bob&username=bob", []string{"bob"}),
		)

		It("counts the matching users", func() {
			r := list(admin, q("search", "ali"))
			Expect(r.JSON()["count"]).To(BeNumerically("==", len(r.Names())))
			Expect(r.JSON()["count"]).To(BeNumerically(">=", 3))
		})

		DescribeTable("rejects bad values with a 400",
			func(query, message string) {
				refused(admin, query, 400, message)
				refused(heidi, query, 400, message)
			},
			Entry("is_active not a boolean", "?is_active=yes", `is_active: "yes" is not true or false`),
			Entry("is_active empty", "?is_active=", `is_active: "" is not true or false`),
			Entry("is_active in another case", "?is_active=TRUE", `is_active: "TRUE" is not true or false`),
			Entry("is_active twice with different values", "?is_active=true&is_active=false", "is_active: given more than once with different values"),
			Entry("username twice with different values", "?username=alice&username=erin", "username: given more than once with different values"),
			Entry("is_active twice, before a valid sort", "?is_active=true&is_active=false&sort=id", "is_active: given more than once with different values"),
			Entry("username twice, before a valid filter", "?username=alice&username=erin&filter="+url.QueryEscape(`{"var":"id"}`), "username: given more than once with different values"),
			Entry("search twice with different values", "?search=a&search=b", "search: given more than once with different values"),
			Entry("filter twice with different values", "?filter=%7B%7D&filter=%5B%5D", "filter: given more than once with different values"),
			Entry("too many search terms", q("search", "a1 a2 a3 a4 a5 a6 a7 a8 a9 b1 b2 b3 b4 b5 b6 b7 b8 b9 c1 c2 c3 c4 c5 c6 c7 c8 c9 d1 d2 d3 d4 d5 d6"), "search: more than 32 terms"),
		)
	})

	Describe("sort (docs/users-api.md section 5)", func() {
		DescribeTable("orders the users",
			func(query string, want []string) {
				Expect(seededNames(list(admin, query))).To(Equal(want))
			},
			Entry("default is -id, newest first", "", everyone),
			Entry("an empty sort is the default", "?sort=", everyone),
			Entry("id", "?sort=id", reversed(everyone)),
			Entry("-id", "?sort=-id", everyone),
			Entry("last_name, byte-wise", "?sort=last_name",
				[]string{"grace", "dave", "judy", "heidi", "admin", "carol", "alice", "erin", "bob", "ivan", "frank"}),
			Entry("-last_name", "?sort=-last_name",
				[]string{"frank", "ivan", "bob", "erin", "alice", "carol", "admin", "heidi", "judy", "dave", "grace"}),
			Entry("first_name", "?sort=first_name", reversed(everyone)),
			Entry("-first_name", "?sort=-first_name", everyone),
			Entry("username", "?sort=username", reversed(everyone)),
			Entry("is_active puts false first, ties by ascending id", "?sort=is_active",
				[]string{"ivan", "admin", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "judy"}),
			Entry("-is_active puts true first, ties still by ascending id", "?sort=-is_active",
				[]string{"admin", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "judy", "ivan"}),
			Entry("several keys", "?sort=is_active,-id",
				[]string{"ivan", "judy", "heidi", "grace", "frank", "erin", "dave", "carol", "bob", "alice", "admin"}),
			Entry("several keys, descending first", "?sort=-is_active,last_name",
				[]string{"grace", "dave", "judy", "heidi", "admin", "carol", "alice", "erin", "bob", "frank", "ivan"}),
			Entry("keys with spaces and a trailing comma", q("sort", " is_active , -id,"),
				[]string{"ivan", "judy", "heidi", "grace", "frank", "erin", "dave", "carol", "bob", "alice", "admin"}),
			Entry("with an organization context", "?org=acme&sort=last_name",
				[]string{"grace", "dave", "judy", "carol", "alice", "bob"}),
		)

		DescribeTable("rejects an unknown key with a 400 naming it",
			func(query, key string) {
				refused(admin, query, 400, "sort: unsupported key '"+key+"'; use username, first_name, last_name, id or is_active")
			},
			Entry("email", "?sort=email", "email"),
			Entry("descending", "?sort=-email", "email"),
			Entry("after a valid key", "?sort=id,date_joined", "date_joined"),
			Entry("a camelCase field name", "?sort=firstName", "firstName"),
		)
	})

	Describe("filter, JSON Logic (docs/users-api.md section 5.1)", func() {
		DescribeTable("keeps the users the expression holds for",
			func(expr string, want []string) {
				Expect(seededNames(list(admin, q("filter", expr)))).To(Equal(want))
			},
			Entry("an inclusive range", `{"<=":[3,{"var":"id"},5]}`, []string{"dave", "carol", "bob"}),
			Entry("an exclusive range", `{"<":[3,{"var":"id"},5]}`, []string{"carol"}),
			Entry("a comparison with the literal first", `{">":[3,{"var":"id"}]}`, []string{"alice", "admin"}),
			Entry(">= on a string", `{">=":[{"var":"username"},"j"]}`, []string{"judy"}),
			Entry("in a list of ids", `{"in":[{"var":"id"},[1,2]]}`, []string{"alice", "admin"}),
			Entry("in a list of names", `{"in":[{"var":"last_name"},["Zhang","Ali","nobody"]]}`, []string{"grace", "frank"}),
			Entry("in an empty list", `{"in":[{"var":"id"},[]]}`, []string{}),
			Entry("in a string, case-sensitive", `{"in":["ali",{"var":"username"}]}`, []string{"alice"}),
			Entry("in a string of the last name", `{"in":["Ali",{"var":"last_name"}]}`, []string{"grace", "dave"}),
			Entry("and", `{"and":[{">":[{"var":"id"},8]},{"!":{"var":"is_active"}}]}`, []string{"ivan"}),
			Entry("or", `{"or":[{"==":[{"var":"username"},"bob"]},{"==":[{"var":"last_name"},"Zhang"]}]}`, []string{"frank", "bob"}),
			Entry("!", `{"!":[{"<":[{"var":"id"},10]}]}`, []string{"judy", "ivan"}),
			Entry("!!", `{"and":[{"!!":{"var":"is_active"}},{">=":[{"var":"id"},10]}]}`, []string{"judy"}),
			Entry("!= on is_active", `{"!=":[{"var":"is_active"},true]}`, []string{"ivan"}),
			Entry("var as a list", `{"==":[{"var":["first_name"]},"Heidi"]}`, []string{"heidi"}),
		)

		It("ANDs filter with search, exact filters and is_active", func() {
			r := list(admin, q("filter", `{">":[{"var":"id"},4]}`, "search", "ali"))
			Expect(seededNames(r)).To(Equal([]string{"grace", "dave"}))
			r = list(admin, q("filter", `{">":[{"var":"id"},4]}`, "is_active", "false"))
			Expect(seededNames(r)).To(Equal([]string{"ivan"}))
			r = list(alice, q("filter", `{">":[{"var":"id"},0]}`))
			Expect(seededNames(r)).To(Equal(acmeActive))
		})

		DescribeTable("rejects a bad expression with a 400 naming the problem",
			func(expr, message string) {
				refused(admin, q("filter", expr), 400, message)
			},
			Entry("not JSON", `not json`, "filter: can't parse filter expression: invalid character 'o' in literal null (expecting 'u')"),
			Entry("truncated JSON", `{"==":[`, "filter: can't parse filter expression: unexpected end of JSON input"),
			Entry("a number", `5`, "filter: can't parse filter expression: expected a JSON Logic object, got 5"),
			Entry("data after the expression", `{"var":"id"} {}`, "filter: can't parse filter expression: unexpected data after the expression"),
			Entry("an empty object", `{}`, "filter shouldn't be empty"),
			Entry("an empty list", `[]`, "filter shouldn't be empty"),
			Entry("an unknown variable", `{"==":[{"var":"email"},"x"]}`, "filter: term 'email' is not supported"),
			Entry("an unknown variable in a list", `{"in":[{"var":"date_joined"},[1]]}`, "filter: term 'date_joined' is not supported"),
			Entry("an unknown operator", `{"foo":[1,2]}`, "filter: operation 'foo' with arguments '[1,2]' is not supported"),
			Entry("the wrong arity", `{"==":[{"var":"id"}]}`, `filter: operation '==' with arguments '[{"var":"id"}]' is not supported`),
			Entry("the wrong type", `{"==":[{"var":"id"},"x"]}`, `filter: operation '==' with arguments '[{"var":"id"},"x"]' is not supported`),
			Entry("a string compared with a number", `{"==":[{"var":"username"},1]}`, `filter: operation '==' with arguments '[{"var":"username"},1]' is not supported`),
			Entry("an order on is_active", `{"<":[{"var":"is_active"},true]}`, `filter: operation '<' with arguments '[{"var":"is_active"},true]' is not supported`),
			Entry("a three-argument ==", `{"==":[1,{"var":"id"},3]}`, `filter: operation '==' with arguments '[1,{"var":"id"},3]' is not supported`),
			Entry("an empty and", `{"and":[]}`, "filter: operation 'and' with arguments '[]' is not supported"),
			Entry("an object with several operators", `{"==":[{"var":"id"},1],"!=":[{"var":"id"},2]}`,
				`filter: operation '!=,==' with arguments '{"!=":[{"var":"id"},2],"==":[{"var":"id"},1]}' is not supported`),
			Entry("nested too deep", strings.Repeat(`{"!":`, 40)+`{"var":"id"}`+strings.Repeat("}", 40),
				"filter: expression is nested deeper than 32 levels"),
		)

		It("never fails with a 500 on hostile input", func() {
			for _, expr := range []string{
				strings.Repeat("[", 5000), strings.Repeat(`{"and":[`, 3000), `{"in":[{"var":"id"},[1e400]]}`,
				`{"==":[{"var":"id"},9223372036854775808]}`, `{"var":null}`, `{"in":[null,null]}`, "\xff\xfe",
				`{"<":[{"var":"id"},1,2,3]}`, `{"!":[]}`, `{"var":"id"}`,
			} {
				r := do(admin.cfg(), "GET", base+q("filter", expr), nil)
				Expect(r.Code).To(Or(Equal(200), Equal(400)), expr+": "+string(r.Body))
			}
		})
	})

	Describe("pages and chunks", Ordered, func() {
		// 60 users of this container's own: more than the suite's
		// MaxPageSize of 50. Their ids run opposite to their names, so
		// username and id orders differ.
		const n = 60
		name := func(i int) string { return fmt.Sprintf("page-%02d", i) }
		id := func(i int) int64 { return int64(2000 - i) }
		var byID []string // -id order: page-00 first
		for i := range n {
			byID = append(byID, name(i))
		}
		search := "&search=page-"

		BeforeAll(func() {
			// Cleanups run last in, first out: this one, registered first,
			// waits for the deletions below to reach the directory.
			DeferCleanup(func() {
				Eventually(func(g Gomega) {
					r := do(admin.cfg(), "GET", base+"?search=page-", nil)
					g.Expect(r.JSON()["count"]).To(BeNumerically("==", 0))
					g.Expect(do(admin.cfg(), "GET", base+"/3", nil).Code).To(Equal(200))
					g.Expect(do(admin.cfg(), "GET", base+"/3", nil).JSON()["id"]).To(BeNumerically("==", 3))
				}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
			})
			for i := range n {
				u := &iamv1alpha1.User{
					ObjectMeta: metav1.ObjectMeta{Name: name(i)},
					Spec: iamv1alpha1.UserSpec{
						FirstName: "Pager", LastName: fmt.Sprintf("Number %02d", i%7), Email: name(i) + "@example.com",
						IsActive: ptr.To(i%9 != 0),
					},
				}
				if i%10 == 3 {
					u.Labels = map[string]string{"roster.dev/test-tier": "gold"}
				}
				Expect(k8sClient.Create(ctx, u)).To(Succeed())
				DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, u))).To(Succeed()) })
				u.Status.ID = id(i)
				Expect(k8sClient.Status().Update(ctx, u)).To(Succeed())
			}
			// A user whose name is all digits: GET by that name finds it, not
			// the user whose id it is.
			digits := &iamv1alpha1.User{
				ObjectMeta: metav1.ObjectMeta{Name: "3"},
				Spec:       iamv1alpha1.UserSpec{FirstName: "Digits", Email: "digits@example.com", IsActive: ptr.To(true)},
			}
			Expect(k8sClient.Create(ctx, digits)).To(Succeed())
			DeferCleanup(func() { Expect(k8sClient.Delete(ctx, digits)).To(Succeed()) })
			digits.Status.ID = 3000
			Expect(k8sClient.Status().Update(ctx, digits)).To(Succeed())

			// A user whose username differs from its name and who also signs
			// in under an OIDC identity.
			oidc := &iamv1alpha1.User{
				ObjectMeta: metav1.ObjectMeta{Name: "pg-oidc"},
				Spec: iamv1alpha1.UserSpec{Username: "pg.owner", FirstName: "Pia", LastName: "Gold",
					Email: "pia@example.com", IsActive: ptr.To(true), Identities: []string{"oidc:pia@example.com"}},
			}
			Expect(k8sClient.Create(ctx, oidc)).To(Succeed())
			DeferCleanup(func() { Expect(k8sClient.Delete(ctx, oidc)).To(Succeed()) })
			oidc.Status.ID = 3001
			Expect(k8sClient.Status().Update(ctx, oidc)).To(Succeed())

			Eventually(func(g Gomega) {
				r := do(as("oidc:pia@example.com"), "GET", base+"/self", nil)
				g.Expect(r.Code).To(Equal(200), string(r.Body))
				r = do(admin.cfg(), "GET", base+"?page_size=1&search=page-&filter="+url.QueryEscape(`{">":[{"var":"id"},1900]}`), nil)
				g.Expect(r.Code).To(Equal(200), string(r.Body))
				g.Expect(r.JSON()["count"]).To(BeNumerically("==", n))
				r = do(admin.cfg(), "GET", base+"/3", nil)
				g.Expect(r.Code).To(Equal(200), string(r.Body))
				g.Expect(r.JSON()["id"]).To(BeNumerically("==", 3000))
			}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
		})

		It("finds an all-digits name before the id", func() {
			r := do(admin.cfg(), "GET", base+"/3", nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.JSON()["firstName"]).To(Equal("Digits"))
			r = do(admin.cfg(), "GET", base+"/2", nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(r.JSON()["metadata"].(map[string]any)["name"]).To(Equal("alice"))
		})

		It("reads the username, not the object name, and maps identities to self", func() {
			r := list(admin, "?username=pg.owner")
			Expect(r.Names()).To(Equal([]string{"pg-oidc"}))
			Expect(r.JSON()["items"].([]any)[0].(map[string]any)["username"]).To(Equal("pg.owner"))
			Expect(allNames(list(admin, "?username=pg-oidc"))).To(BeEmpty())
			Expect(list(admin, q("search", "PG.OWN")).Names()).To(Equal([]string{"pg-oidc"}))
			Expect(list(admin, q("filter", `{"==":[{"var":"username"},"pg.owner"]}`)).Names()).To(Equal([]string{"pg-oidc"}))

			for _, identity := range []string{"oidc:pia@example.com", "pg.owner"} {
				r = do(as(identity), "GET", base+"/self", nil)
				Expect(r.Code).To(Equal(200), string(r.Body))
				Expect(r.JSON()["metadata"].(map[string]any)["name"]).To(Equal("pg-oidc"))
				Expect(r.JSON()["email"]).To(Equal("pia@example.com"))
				Expect(allNames(list(caller{user: identity}, ""))).To(Equal([]string{"pg-oidc"}))
				Expect(allNames(list(caller{user: identity}, "?org="))).To(Equal([]string{"pg-oidc"}))
			}
			By("the object name alone is not an identity")
			r = do(as("pg-oidc"), "GET", base+"/self", nil)
			Expect(r.Code).To(Equal(404), string(r.Body))
		})

		It("sorts by username and by id differently", func() {
			Expect(list(admin, "?sort=username"+search).Names()).To(Equal(byID))
			Expect(list(admin, "?sort=-username"+search).Names()).To(Equal(reversed(byID)))
			Expect(list(admin, "?sort=id"+search).Names()).To(Equal(reversed(byID)))
			Expect(list(admin, "?sort=last_name,-username"+search).Names()[:3]).To(Equal([]string{"page-56", "page-49", "page-42"}))
		})

		DescribeTable("pages by number",
			func(query string, items []string, count int, next, previous string) {
				r := list(admin, query+search)
				Expect(allNames(r)).To(Equal(items))
				m := r.JSON()
				Expect(m["count"]).To(BeNumerically("==", count))
				Expect(m).To(HaveKeyWithValue("next", link(next)))
				Expect(m).To(HaveKeyWithValue("previous", link(previous)))
			},
			Entry("page 1", "?page=1&page_size=20", byID[:20], n,
				base+"?page=2&page_size=20&search=page-", ""),
			Entry("a middle page", "?page=2&page_size=20", byID[20:40], n,
				base+"?page=3&page_size=20&search=page-", base+"?page=1&page_size=20&search=page-"),
			Entry("the last page by number", "?page=3&page_size=20", byID[40:], n,
				"", base+"?page=2&page_size=20&search=page-"),
			Entry("page=last", "?page=last&page_size=25", byID[50:], n,
				"", base+"?page=2&page_size=25&search=page-"),
			Entry("page_size alone is page 1", "?page_size=7", byID[:7], n,
				base+"?page=2&page_size=7&search=page-", ""),
			Entry("page alone has 10 rows", "?page=2", byID[10:20], n,
				base+"?page=3&search=page-", base+"?page=1&search=page-"),
			Entry("page=last alone has 10 rows", "?page=last", byID[50:], n,
				"", base+"?page=5&search=page-"),
			Entry("a page_size above the maximum is clamped to 50", "?page_size=1000", byID[:50], n,
				base+"?page=2&page_size=1000&search=page-", ""),
			Entry("the clamped size gives the last page", "?page=last&page_size=51", byID[50:], n,
				"", base+"?page=1&page_size=51&search=page-"),
			Entry("an empty page is as if absent", "?page=&page_size=5", byID[:5], n,
				base+"?page=2&page_size=5&search=page-", ""),
			Entry("the rows of one page with filters", "?page=2&page_size=3&is_active=false", []string{"page-27", "page-36", "page-45"}, 7,
				base+"?is_active=false&page=3&page_size=3&search=page-", base+"?is_active=false&page=1&page_size=3&search=page-"),
			Entry("one page holding everything", "?page=1&page_size=50&is_active=false", []string{"page-00", "page-09", "page-18", "page-27", "page-36", "page-45", "page-54"}, 7,
				"", ""),
			Entry("page 1 of an empty result", "?page=1&username=nobody", []string{}, 0, "", ""),
			Entry("page=last of an empty result", "?page=last&page_size=5&username=nobody", []string{}, 0, "", ""),
		)

		It("links with the request's own parameters, never the header", func() {
			// The page users have no memberships: the personal workspace holds them.
			r := list(admin, "?page=2&page_size=2&sort=username&search=page-&limit=3", "X-Organization", "")
			Expect(r.Names()).To(Equal([]string{"page-02", "page-03"}))
			Expect(r.JSON()["next"]).To(Equal(base + "?limit=3&page=3&page_size=2&search=page-&sort=username"))
			r = list(admin, "?page=2&page_size=2&sort=username&search=page-&org=")
			Expect(r.Names()).To(Equal([]string{"page-02", "page-03"}))
			Expect(r.JSON()["next"]).To(Equal(base + "?org=&page=3&page_size=2&search=page-&sort=username"))
			Expect(r.JSON()["previous"]).To(Equal(base + "?org=&page=1&page_size=2&search=page-&sort=username"))
		})

		DescribeTable("answers a page past the end with a 404 Invalid page.",
			func(query string) {
				refused(admin, query+search, 404, "Invalid page.")
			},
			Entry("one past the last page", "?page=4&page_size=20"),
			Entry("far past the end", "?page=1000"),
			Entry("past the end of the clamped size", "?page=3&page_size=1000"),
			Entry("a number too large for an int", "?page=99999999999999999999999"),
			Entry("page 2 of an empty result", "?page=2&username=nobody"),
		)

		DescribeTable("rejects bad page numbers and sizes with a 400",
			func(query, message string) {
				refused(admin, query+search, 400, message)
			},
			Entry("page 0", "?page=0", `page: "0" is not a positive integer or "last"`),
			Entry("a negative page", "?page=-1", `page: "-1" is not a positive integer or "last"`),
			Entry("a word", "?page=first", `page: "first" is not a positive integer or "last"`),
			Entry("page_size 0", "?page_size=0", `page_size: "0" is not a positive integer`),
			Entry("page_size not a number", "?page_size=ten", `page_size: "ten" is not a positive integer`),
			Entry("page twice with different values", "?page=1&page=2", "page: given more than once with different values"),
		)

		It("returns everything without page parameters", func() {
			r := list(admin, "?"+search[1:])
			Expect(r.Names()).To(Equal(byID))
			Expect(r.JSON()["count"]).To(BeNumerically("==", n))
			Expect(r.JSON()["next"]).To(BeNil())
			rv := r.JSON()["metadata"].(map[string]any)["resourceVersion"].(string)
			Expect(strconv.ParseUint(rv, 10, 64)).To(BeNumerically(">", 0))

			By("accepting resourceVersion=0, as informers send it")
			Expect(list(admin, "?resourceVersion=0"+search).Names()).To(Equal(byID))
		})

		It("chunks with limit and continue when no page parameter is given", func() {
			var got []string
			cont := ""
			var remaining []any
			for range 10 {
				r := list(admin, "?limit=25&search=page-&continue="+url.QueryEscape(cont))
				got = append(got, r.Names()...)
				meta := r.JSON()["metadata"].(map[string]any)
				Expect(r.JSON()["count"]).To(BeNumerically("==", n))
				remaining = append(remaining, meta["remainingItemCount"])
				c, _ := meta["continue"].(string)
				if c == "" {
					break
				}
				cont = c
			}
			Expect(got).To(Equal(byID))
			Expect(remaining).To(Equal([]any{35.0, 10.0, nil}))

			By("chunking a sorted, filtered list")
			r := list(admin, "?limit=4&sort=id&is_active=false&search=page-")
			Expect(r.Names()).To(Equal([]string{"page-54", "page-45", "page-36", "page-27"}))
			cont = r.JSON()["metadata"].(map[string]any)["continue"].(string)
			r = list(admin, "?limit=4&sort=id&is_active=false&search=page-&continue="+url.QueryEscape(cont))
			Expect(r.Names()).To(Equal([]string{"page-18", "page-09", "page-00"}))
			Expect(r.JSON()["metadata"].(map[string]any)).NotTo(HaveKey("continue"))
		})

		It("ignores limit when page parameters are given", func() {
			r := list(admin, "?limit=2&page_size=5"+search)
			Expect(r.Names()).To(Equal(byID[:5]))
			Expect(r.JSON()["metadata"].(map[string]any)).NotTo(HaveKey("continue"))
		})

		It("rejects a continue token it did not issue", func() {
			refused(admin, "?limit=5&continue=bm90LWEtdG9rZW4"+search, 400, "continue: the continue token is not valid")
		})

		It("filters by label and by metadata.name", func() {
			r := list(admin, "?labelSelector="+url.QueryEscape("roster.dev/test-tier=gold")+search)
			Expect(r.Names()).To(Equal([]string{"page-03", "page-13", "page-23", "page-33", "page-43", "page-53"}))
			Expect(r.JSON()["count"]).To(BeNumerically("==", 6))
			r = list(admin, "?page_size=2&labelSelector="+url.QueryEscape("roster.dev/test-tier=gold")+search)
			Expect(r.Names()).To(Equal([]string{"page-03", "page-13"}))
			Expect(r.JSON()["count"]).To(BeNumerically("==", 6))
			r = list(admin, "?labelSelector="+url.QueryEscape("roster.dev/test-tier!=gold")+search)
			Expect(r.Names()).To(HaveLen(n - 6))
			r = list(admin, "?fieldSelector="+url.QueryEscape("metadata.name=page-07"))
			Expect(r.Names()).To(Equal([]string{"page-07"}))
			r = list(admin, "?fieldSelector="+url.QueryEscape("metadata.name=page-07")+"&search=nobody")
			Expect(allNames(r)).To(BeEmpty())
			r = list(alice, "?fieldSelector="+url.QueryEscape("metadata.name=bob"))
			Expect(r.Names()).To(Equal([]string{"bob"}))
			r = list(alice, "?fieldSelector="+url.QueryEscape("metadata.name=page-07"))
			Expect(allNames(r)).To(BeEmpty())
			By("refusing other fields with a 400")
			refused(admin, "?fieldSelector="+url.QueryEscape("metadata.namespace=default"), 400,
				`fieldSelector: field "metadata.namespace" is not supported; only metadata.name is`)
			r = do(admin.cfg(), "GET", base+"?fieldSelector="+url.QueryEscape("spec.username=page-07"), nil)
			Expect(r.Code).To(Equal(400), string(r.Body))
			Expect(r.Message()).To(Equal(`"spec.username" is not a known field selector: only "metadata.name", "metadata.namespace"`))
		})

		// It changes the page users: only specs that do not rely on them follow.
		It("resumes a chunked list where it stopped while users come and go", func() {
			r := list(admin, "?limit=10&search=page-")
			Expect(r.Names()).To(Equal(byID[:10]))
			cont := r.JSON()["metadata"].(map[string]any)["continue"].(string)

			By("adding two users before the cursor and removing one already listed")
			for i, name := range []string{"page-zy", "page-zz"} {
				u := &iamv1alpha1.User{
					ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec:       iamv1alpha1.UserSpec{FirstName: "Late", Email: name + "@example.com", IsActive: ptr.To(true)},
				}
				Expect(k8sClient.Create(ctx, u)).To(Succeed())
				DeferCleanup(func() { Expect(k8sClient.Delete(ctx, u)).To(Succeed()) })
				u.Status.ID = int64(2501 - i)
				Expect(k8sClient.Status().Update(ctx, u)).To(Succeed())
			}
			Expect(k8sClient.Delete(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "page-03"}})).To(Succeed())
			Eventually(func(g Gomega) {
				r := do(admin.cfg(), "GET", base+"?page_size=3&search=page-", nil)
				g.Expect(r.Code).To(Equal(200), string(r.Body))
				g.Expect(r.Names()).To(Equal([]string{"page-zy", "page-zz", "page-00"}))
				g.Expect(do(admin.cfg(), "GET", base+"/page-03", nil).Code).To(Equal(404))
			}, 30*time.Second, 100*time.Millisecond).Should(Succeed())

			r = list(admin, "?limit=10&search=page-&continue="+url.QueryEscape(cont))
			Expect(r.Names()).To(Equal(byID[10:20]))
			Expect(r.JSON()["count"]).To(BeNumerically("==", n+1))
			// 61 users: 11 now sort up to page-09, the cursor, and 10 were listed.
			Expect(r.JSON()["metadata"].(map[string]any)["remainingItemCount"]).To(BeNumerically("==", n+1-11-10))
		})

		It("shows an unmapped caller none of them", func() {
			Expect(allNames(list(mallory, "?page=1"+search))).To(BeEmpty())
			refused(mallory, "?page=2"+search, 404, "Invalid page.")
		})
	})

	Describe("kubectl", func() {
		header := regexp.MustCompile(`^NAME\s+ID\s+USERNAME\s+FIRST NAME\s+LAST NAME\s+EMAIL\s+ACTIVE\s+AGE\s*$`)
		rows := func(out string) (string, map[string]string) {
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			byName := map[string]string{}
			for _, l := range lines[1:] {
				byName[strings.Fields(l)[0]] = l
			}
			return lines[0], byName
		}
		seededRows := func(m map[string]string) []string {
			var out []string
			for _, p := range people {
				if _, ok := m[p.Name]; ok {
					out = append(out, p.Name)
				}
			}
			return out
		}

		It("shows an owner exactly the users they may see, with the directory's columns", func() {
			out, err := kubectl(alice.cfg(), "get", "users")
			Expect(err).NotTo(HaveOccurred(), out)
			head, byName := rows(out)
			Expect(head).To(MatchRegexp(header.String()))
			Expect(seededRows(byName)).To(ConsistOf(acmeActive))
			Expect(byName["alice"]).To(MatchRegexp(`^alice\s+2\s+alice\s+Alice\s+Nguyen\s+alice@example\.com\s+true\s+\S+\s*$`))
			Expect(byName["bob"]).To(MatchRegexp(`^bob\s+3\s+bob\s+Bob\s+Okafor\s+\S+\s*$`))
			Expect(byName["bob"]).NotTo(ContainSubstring("@"))
		})

		It("shows each caller their own set", func() {
			for _, tc := range []struct {
				c    caller
				want []string
			}{
				{admin, everyone},
				{masters, everyone},
				{dave, []string{"judy", "frank", "erin", "dave", "carol", "bob", "alice"}},
				{heidi, []string{"heidi"}},
			} {
				out, err := kubectl(tc.c.cfg(), "get", "users")
				Expect(err).NotTo(HaveOccurred(), out)
				head, byName := rows(out)
				Expect(head).To(MatchRegexp(header.String()))
				Expect(seededRows(byName)).To(ConsistOf(tc.want), tc.c.user)
			}
			out, err := kubectl(mallory.cfg(), "get", "users")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).To(ContainSubstring("No resources found"))
		})

		It("pages through chunks and honours selectors", func() {
			out, err := kubectl(alice.cfg(), "get", "users", "--chunk-size=2")
			Expect(err).NotTo(HaveOccurred(), out)
			head, byName := rows(out)
			Expect(head).To(MatchRegexp(header.String()))
			Expect(seededRows(byName)).To(ConsistOf(acmeActive))
			Expect(strings.Count(out, "\nNAME")).To(BeZero(), "one header for all chunks")

			out, err = kubectl(alice.cfg(), "get", "users", "--field-selector", "metadata.name=bob", "-o", "name")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(strings.Fields(out)).To(Equal([]string{"user.directory.roster.dev/bob"}))
			out, err = kubectl(alice.cfg(), "get", "users", "--field-selector", "metadata.name=erin", "-o", "name")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(strings.Fields(out)).To(BeEmpty())
		})

		It("shows an administrator every column in full", func() {
			out, err := kubectl(admin.cfg(), "get", "users", "ivan", "bob")
			Expect(err).NotTo(HaveOccurred(), out)
			_, byName := rows(out)
			Expect(byName["ivan"]).To(MatchRegexp(`^ivan\s+10\s+ivan\s+Ivan\s+Petrov\s+ivan@example\.com\s+false\s+\S+\s*$`))
			Expect(byName["bob"]).To(MatchRegexp(`^bob\s+3\s+bob\s+Bob\s+Okafor\s+bob@example\.com\s+true\s+\S+\s*$`))
		})

		It("reads self as YAML and by name", func() {
			out, err := kubectl(dave.cfg(), "get", "users", "self", "-o", "yaml")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).To(ContainSubstring("apiVersion: directory.roster.dev/v1alpha1"))
			Expect(out).To(ContainSubstring("email: dave@example.com"))
			Expect(out).To(ContainSubstring("slug: globex"))
			out, err = kubectl(alice.cfg(), "get", "users", "erin")
			Expect(err).To(HaveOccurred())
			Expect(out).To(ContainSubstring(`users.directory.roster.dev "erin" not found`))
		})

		It("names the directory's users by the aggregated group, and the CRD by its full name", func() {
			out, err := kubectl(alice.cfg(), "get", "users", "-o", "name")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(strings.Fields(out)).To(ContainElement("user.directory.roster.dev/alice"))

			cluster := caller{user: "cluster-operator", groups: []string{"system:masters"}}
			out, err = kubectl(cluster.cfg(), "get", "users.iam.roster.dev")
			Expect(err).NotTo(HaveOccurred(), out)
			head, byName := rows(out)
			Expect(head).To(MatchRegexp(`^NAME\s+USERNAME\s+`))
			Expect(head).NotTo(ContainSubstring("FIRST NAME"))
			Expect(seededRows(byName)).To(ConsistOf(everyone))
			out, err = kubectl(cluster.cfg(), "get", "users.iam.roster.dev", "-o", "name")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(strings.Fields(out)).To(ContainElement("user.iam.roster.dev/alice"))

			By("while a regular user has no access to the CRD itself")
			out, err = kubectl(alice.cfg(), "get", "users.iam.roster.dev")
			Expect(err).To(HaveOccurred())
			Expect(out).To(ContainSubstring("forbidden"))
		})
	})
})

// link is a matcher for a next or previous link; "" stands for null.
func link(want string) OmegaMatcher {
	if want == "" {
		return BeNil()
	}
	return Equal(want)
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}
