package server_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Smoke", func() {
	It("lists users through kube-apiserver, and kubectl shows an owner the active members of their organization", func() {
		seeded := make([]string, 0, len(people))
		for _, p := range people {
			seeded = append(seeded, p.Name)
		}
		// Other specs add and remove users of their own: only the seeded ones
		// are certain.
		Eventually(func(g Gomega) {
			r := do(as("admin"), "GET", base, nil)
			g.Expect(r.Code).To(Equal(200), string(r.Body))
			g.Expect(r.Names()).To(ContainElements(seeded))
		}).Should(Succeed())
		out, err := kubectl(as("alice"), "get", "users", "-o", "custom-columns=NAME:.metadata.name", "--no-headers")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(lines(out)).To(ContainElements("alice", "bob", "carol", "dave", "judy"))
		Expect(lines(out)).NotTo(ContainElements("frank", "grace", "heidi"), "outside acme, or only invited to it")
	})
})

// lines splits kubectl's output into its non-empty lines.
func lines(out string) []string {
	var l []string
	for _, s := range strings.Split(out, "\n") {
		if s = strings.TrimSpace(s); s != "" {
			l = append(l, s)
		}
	}
	return l
}
