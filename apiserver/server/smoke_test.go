package server_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Smoke", func() {
	It("lists users through kube-apiserver", func() {
		r := do(as("admin"), "GET", base, nil)
		Expect(r.Code).To(Equal(200), string(r.Body))
		Expect(r.Names()).To(HaveLen(11))
		out, err := kubectl(as("alice"), "get", "users")
		Expect(err).NotTo(HaveOccurred(), out)
		GinkgoWriter.Println(out)
	})
})
