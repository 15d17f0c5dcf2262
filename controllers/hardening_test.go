package controllers

import (
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// setCounter writes the users' ID counter as a person repairing (or
// breaking) it would.
func setCounter(value string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		cm := &corev1.ConfigMap{}
		g.Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: testNamespace, Name: CounterConfigMapName}, cm)).To(Succeed())
		cm.Data[userIDs.key] = value
		g.Expect(k8sClient.Update(suiteCtx, cm)).To(Succeed())
	}).Should(Succeed())
}

// restartControllers starts the controllers afresh, with no block of IDs
// reserved in memory: the next ID comes from the counter.
func restartControllers() {
	GinkgoHelper()
	stopManager()
	stopManager = startManager(cfg, testOptions())
}

// The ID half of the hardening regression suite (docs/security.md).
var _ = Describe("Hardening: IDs near the integer limit (2)", Ordered, func() {
	It("stalls a User whose ID annotation is beyond the largest ID, writes it no more, and keeps giving other users IDs", func() {
		planted := newUser(uniq("planted"))
		planted.Annotations = map[string]string{AnnotationID: "9223372036854775807"}
		Expect(k8sClient.Create(suiteCtx, planted)).To(Succeed())
		u := &iamv1alpha1.User{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(planted.Name), u)).To(Succeed())
			expectStalled(g, u.Status.Conditions, ReasonInvalidIDAnnotation,
				`annotation iam.roster.dev/id is "9223372036854775807": an ID is an integer from 1 to 9007199254740991`)
			g.Expect(kstatus(g, u)).To(Equal(status.FailedStatus))
			g.Expect(hasEvent(g, planted.Name, corev1.EventTypeWarning, ReasonInvalidIDAnnotation,
				`annotation iam.roster.dev/id is "9223372036854775807": an ID is an integer from 1 to 9007199254740991`)).To(BeTrue())
		}).Should(Succeed())
		Expect(u.Status.ID).To(BeZero())
		Expect(u.Annotations[AnnotationID]).To(Equal("9223372036854775807"), "the controllers leave the annotation for a person to fix")
		Consistently(func(g Gomega) string {
			g.Expect(k8sClient.Get(suiteCtx, key(planted.Name), u)).To(Succeed())
			return u.ResourceVersion
		}, 2*time.Second, 200*time.Millisecond).Should(Equal(u.ResourceVersion), "a stalled User is not written again and again")

		By("giving the next user an ID well below the limit")
		next := uniq("after-planted")
		Expect(k8sClient.Create(suiteCtx, newUser(next))).To(Succeed())
		Eventually(func(g Gomega) {
			id := userIDsByName(g, []string{next})[next]
			g.Expect(id).To(BeNumerically("<", 1_000_000))
			n := &iamv1alpha1.User{}
			g.Expect(k8sClient.Get(suiteCtx, key(next), n)).To(Succeed())
			g.Expect(n.Annotations[AnnotationID]).To(Equal(strconv.FormatInt(id, 10)))
			g.Expect(counterValue(g, userIDs.key)).To(BeNumerically("<", 1_000_000))
		}).Should(Succeed())

		By("recovering once a person fixes the annotation")
		Expect(k8sClient.Patch(suiteCtx, newUser(planted.Name), client.RawPatch("application/merge-patch+json",
			[]byte(`{"metadata":{"annotations":{"iam.roster.dev/id":null}}}`)))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(planted.Name), u)).To(Succeed())
			g.Expect(u.Status.ID).To(BeNumerically(">", 0))
			expectReady(g, u.Status.Conditions, u.Generation, u.Status.ObservedGeneration)
		}).Should(Succeed())
	})

	DescribeTable("refuses a status.id beyond the largest ID",
		func(obj client.Object, patch string) {
			Expect(k8sClient.Create(suiteCtx, obj)).To(Succeed())
			err := k8sClient.Status().Patch(suiteCtx, obj, client.RawPatch("application/merge-patch+json", []byte(patch)))
			Expect(err).To(MatchError(ContainSubstring("status.id: Invalid value: 9007199254740992: id in body should be less than or equal to 9007199254740991")))
		},
		Entry("a User", newUser(uniq("big-id")), `{"status":{"id":9007199254740992}}`),
		Entry("an Organization", newOrg(uniq("big"), ""), `{"status":{"id":9007199254740992}}`),
	)

	It("stalls new users while the counter is exhausted, and recovers when it is lowered", func() {
		restartControllers()
		setCounter(strconv.FormatInt(iamv1alpha1.MaxID, 10))
		DeferCleanup(func() { setCounter("1000000") })
		name := uniq("exhausted")
		Expect(k8sClient.Create(suiteCtx, newUser(name))).To(Succeed())
		u := &iamv1alpha1.User{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(name), u)).To(Succeed())
			expectStalled(g, u.Status.Conditions, ReasonIDsExhausted,
				"allocating an ID: no users ID is left: the counter is at 9007199254740991 and the largest ID is 9007199254740991")
		}).Should(Succeed())
		Expect(u.Status.ID).To(BeZero())
		setCounter("1000000")
		Eventually(func(g Gomega) {
			g.Expect(userIDsByName(g, []string{name})[name]).To(BeNumerically(">", 1000000))
		}).Should(Succeed())
	})

	It("stalls new users while the counter is corrupted, with a Warning event, and recovers on its own once it is fixed (users API 10)", func() {
		restartControllers()
		setCounter("not-a-number")
		DeferCleanup(func() { setCounter("2000000") })
		name := uniq("corrupt")
		Expect(k8sClient.Create(suiteCtx, newUser(name))).To(Succeed())
		message := `allocating an ID: ConfigMap roster-system/roster-ids: key "users" holds "not-a-number", not an integer from 0 to 9007199254740991`
		u := &iamv1alpha1.User{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(name), u)).To(Succeed())
			expectStalled(g, u.Status.Conditions, ReasonIDCounterInvalid, message)
			g.Expect(kstatus(g, u)).To(Equal(status.FailedStatus))
			g.Expect(hasEvent(g, name, corev1.EventTypeWarning, ReasonIDCounterInvalid, message)).To(BeTrue())
		}).Should(Succeed())
		setCounter("2000000")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(name), u)).To(Succeed())
			g.Expect(u.Status.ID).To(BeNumerically(">", 2000000))
			expectReady(g, u.Status.Conditions, u.Generation, u.Status.ObservedGeneration)
		}).Should(Succeed())
	})
})
