package server_test

import (
	"encoding/json"
	"sort"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The directory validates writes with the User CRD's own schema and CEL rules.
// Each case goes both to the CRD (kube-apiserver) and through the directory,
// as a create and as a merge patch, both dry runs: the two must both accept
// or both refuse, and a refusal must come from the directory itself (its
// group, its field names) with the CRD's reasons and messages.
var _ = Describe("Validation of directory writes against the CRD", Label("validation"), func() {
	const crdBase = "/apis/iam.roster.dev/v1alpha1/users"

	// cause is one field error of a 422, as the directory names it.
	type cause struct{ Reason, Field, Message string }
	refusal := func(r response) (group string, causes []cause) {
		GinkgoHelper()
		var status struct {
			Details struct {
				Group  string `json:"group"`
				Causes []struct {
					Reason  string `json:"reason"`
					Field   string `json:"field"`
					Message string `json:"message"`
				} `json:"causes"`
			} `json:"details"`
		}
		Expect(json.Unmarshal(r.Body, &status)).To(Succeed(), string(r.Body))
		for _, c := range status.Details.Causes {
			// The CRD's fields are under spec; the view's are at the top.
			causes = append(causes, cause{c.Reason, strings.TrimPrefix(c.Field, "spec."), strings.ReplaceAll(c.Message, "spec.", "")})
		}
		sort.Slice(causes, func(i, j int) bool { return causes[i].Field+causes[i].Message < causes[j].Field+causes[j].Message })
		return status.Details.Group, causes
	}
	body := func(v any) []byte {
		GinkgoHelper()
		b, err := json.Marshal(v)
		Expect(err).NotTo(HaveOccurred())
		return b
	}
	same := func(crd, dir response) {
		GinkgoHelper()
		if crd.Code != 422 {
			Expect(crd.Code).To(BeNumerically("<", 300), "the CRD answered %s", crd.Body)
			Expect(dir.Code).To(BeNumerically("<", 300), "the CRD accepts it, the directory answered %s", dir.Body)
			return
		}
		Expect(dir.Code).To(Equal(422), "the CRD refuses it with %s, the directory answered %s", crd.Body, dir.Body)
		_, crdCauses := refusal(crd)
		group, dirCauses := refusal(dir)
		Expect(group).To(Equal("directory.roster.dev"), "the directory refuses it itself, not kube-apiserver: %s", dir.Body)
		Expect(dirCauses).To(Equal(crdCauses))
		Expect(dirCauses).NotTo(BeEmpty())
		for _, c := range dirCauses {
			Expect(c.Field).NotTo(BeEmpty(), "each refusal names its field")
		}
	}

	long := func(n int, s string) string { return strings.Repeat(s, n) }
	groups := func(n int) []string {
		g := make([]string, n)
		for i := range g {
			g[i] = "g" + strings.Repeat("x", i)
		}
		return g
	}

	DescribeTable("both accept or both refuse, naming the same field with the same message",
		func(fields map[string]any, refused bool) {
			By("creating")
			if u, ok := fields["username"]; !ok || u != "" { // the directory defaults an empty username to the name
				username := "v-create"
				if u, ok := fields["username"].(string); ok {
					username = u
				}
				spec := map[string]any{"username": username}
				view := map[string]any{"apiVersion": "directory.roster.dev/v1alpha1", "kind": "User",
					"metadata": map[string]any{"name": "v-create"}, "username": username}
				for k, v := range fields {
					spec[k], view[k] = v, v
				}
				crd := do(adminCfg, "POST", crdBase+"?dryRun=All", body(map[string]any{
					"apiVersion": "iam.roster.dev/v1alpha1", "kind": "User",
					"metadata": map[string]any{"name": "v-create"}, "spec": spec,
				}), "Content-Type", "application/json")
				Expect(crd.Code == 422).To(Equal(refused), "the CRD answered %s", crd.Body)
				same(crd, do(as("admin"), "POST", base+"?dryRun=All", body(view), "Content-Type", "application/json"))
			}

			By("changing an existing user")
			makeUser("v-update", 120)
			crd := do(adminCfg, "PATCH", crdBase+"/v-update?dryRun=All", body(map[string]any{"spec": fields}))
			Expect(crd.Code == 422).To(Equal(refused), "the CRD answered %s", crd.Body)
			same(crd, do(as("admin"), "PATCH", base+"/v-update?dryRun=All", body(fields)))
		},
		Entry("valid names and email", map[string]any{"firstName": "Zoë", "lastName": "O'Brien", "email": "z@example.com"}, false),
		Entry("an empty email", map[string]any{"email": ""}, false),
		Entry("names of 150 two-byte characters", map[string]any{"firstName": long(150, "é"), "lastName": long(150, "é")}, false),
		Entry("a first name of 151 characters", map[string]any{"firstName": long(151, "a")}, true),
		Entry("a last name of 151 characters", map[string]any{"lastName": long(151, "é")}, true),
		Entry("an email without a domain", map[string]any{"email": "nope"}, true),
		Entry("an email without a dot in the domain", map[string]any{"email": "a@b"}, true),
		Entry("an email of 255 characters", map[string]any{"email": long(243, "a") + "@example.com"}, true),
		Entry("an email with a space", map[string]any{"email": "a b@example.com"}, true),
		Entry("a username with every allowed sign", map[string]any{"username": "a.b@c+d-e_f9"}, false),
		Entry("a username of 150 characters", map[string]any{"username": long(150, "u")}, false),
		Entry("a username of 151 characters", map[string]any{"username": long(151, "u")}, true),
		Entry("a username with a space", map[string]any{"username": "has space"}, true),
		Entry("a username with letters outside ASCII", map[string]any{"username": "zoë"}, true),
		Entry("an empty username", map[string]any{"username": ""}, true),
		Entry("32 groups", map[string]any{"groups": groups(32)}, false),
		Entry("33 groups", map[string]any{"groups": groups(33)}, true),
		Entry("an empty group name", map[string]any{"groups": []string{""}}, true),
		Entry("a group name of 65 characters", map[string]any{"groups": []string{long(65, "g")}}, true),
		Entry("a group twice", map[string]any{"groups": []string{"user", "user"}}, true),
		Entry("several bad fields at once", map[string]any{"email": "nope", "firstName": long(151, "a"), "groups": []string{""}}, true),
	)
})
