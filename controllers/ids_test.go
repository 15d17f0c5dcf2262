package controllers

import (
	"strconv"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// createUsers creates the users with 16 concurrent clients.
func createUsers(names []string) {
	GinkgoHelper()
	var wg sync.WaitGroup
	work := make(chan string)
	for range 16 {
		wg.Go(func() {
			defer GinkgoRecover()
			for name := range work {
				Expect(k8sClient.Create(suiteCtx, newUser(name))).To(Succeed())
			}
		})
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
}

// userIDsByName returns the status IDs of all users, failing g while any of
// names has none yet.
func userIDsByName(g Gomega, names []string) map[string]int64 {
	var list iamv1alpha1.UserList
	g.Expect(k8sClient.List(suiteCtx, &list)).To(Succeed())
	ids := map[string]int64{}
	for _, u := range list.Items {
		ids[u.Name] = u.Status.ID
	}
	for _, n := range names {
		g.Expect(ids[n]).To(BeNumerically(">", 0), "user %s has no ID yet", n)
	}
	return ids
}

// expectDistinct fails when two users hold the same ID.
func expectDistinct(g Gomega, ids map[string]int64) {
	holder := map[int64]string{}
	for name, id := range ids {
		if id == 0 {
			continue
		}
		g.Expect(holder).NotTo(HaveKey(id), "ID %d held by %s and %s", id, holder[id], name)
		holder[id] = name
	}
}

func counterValue(g Gomega, kind string) int64 {
	cm := &corev1.ConfigMap{}
	g.Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: testNamespace, Name: CounterConfigMapName}, cm)).To(Succeed())
	v, err := strconv.ParseInt(cm.Data[kind], 10, 64)
	g.Expect(err).NotTo(HaveOccurred())
	return v
}

// idWriters counts, by field manager, who wrote the ID annotation of the
// named users.
func idWriters(names []string) map[string]int {
	GinkgoHelper()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var list iamv1alpha1.UserList
	Expect(k8sClient.List(suiteCtx, &list)).To(Succeed())
	writers := map[string]int{}
	for _, u := range list.Items {
		if !want[u.Name] {
			continue
		}
		for _, mf := range u.ManagedFields {
			if mf.FieldsV1 != nil && strings.Contains(string(mf.FieldsV1.Raw), `"f:`+AnnotationID+`"`) {
				writers[mf.Manager]++
			}
		}
	}
	return writers
}

func namesOf(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = uniq(prefix)
	}
	return names
}

var _ = Describe("Numeric IDs", Ordered, func() {
	It("gives 300 users created concurrently 300 distinct IDs", func() {
		names := namesOf("bulk", 300)
		createUsers(names)
		Eventually(func(g Gomega) {
			ids := userIDsByName(g, names)
			expectDistinct(g, ids)
			var highest int64
			for _, id := range ids {
				highest = max(highest, id)
			}
			g.Expect(counterValue(g, userIDs.key)).To(BeNumerically(">=", highest))
		}, "60s").Should(Succeed())
	})

	It("never hands out an ID twice or reuses a deleted user's ID across restarts and racing processes", func() {
		deleted := uniq("gone")
		Expect(k8sClient.Create(suiteCtx, newUser(deleted))).To(Succeed())
		var deletedID int64
		Eventually(func(g Gomega) {
			deletedID = userIDsByName(g, []string{deleted})[deleted]
		}).Should(Succeed())
		Expect(k8sClient.Delete(suiteCtx, newUser(deleted))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(deleted), &iamv1alpha1.User{})).To(MatchError(ContainSubstring("not found")))
		}).Should(Succeed())

		By("stopping the manager in the middle of a bulk create")
		stopManager()
		stopFirst := startManager(cfg, testOptions())
		names := namesOf("restart", 200)
		created := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(created)
			createUsers(names)
		}()
		withID := func(g Gomega) int {
			var list iamv1alpha1.UserList
			g.Expect(k8sClient.List(suiteCtx, &list)).To(Succeed())
			n := 0
			for _, u := range list.Items {
				if u.Annotations[AnnotationID] != "" && len(u.Name) > 8 && u.Name[:8] == "restart-" {
					n++
				}
			}
			return n
		}
		Eventually(func(g Gomega) {
			g.Expect(withID(g)).To(BeNumerically(">=", 20))
		}).Should(Succeed())
		stopFirst()
		<-created
		// The stop must fall in the middle: users are left for the next managers.
		Expect(withID(Default)).To(BeNumerically("<", len(names)), "the first manager finished before it was stopped: nothing was left to test")

		By("starting two managers that race for the rest")
		// Each manager writes with a user agent of its own, so the managed
		// fields tell which one wrote a user's ID annotation.
		racer := func(agent string) *rest.Config {
			c := rest.CopyConfig(cfg)
			c.UserAgent = agent
			return c
		}
		stopSecond := startManager(racer("racer-second"), testOptions())
		stopThird := startManager(racer("racer-third"), testOptions())
		Eventually(func(g Gomega) {
			ids := userIDsByName(g, names)
			expectDistinct(g, ids)
			for name, id := range ids {
				g.Expect(id).NotTo(Equal(deletedID), "user %s reuses the deleted user's ID", name)
			}
		}, "60s").Should(Succeed())
		handedOut := idWriters(names)
		GinkgoWriter.Printf("IDs written by each manager: %v\n", handedOut)
		Expect(handedOut).To(HaveKeyWithValue("racer-second", BeNumerically(">", 0)), "the second manager handed out no ID: there was no race")
		Expect(handedOut).To(HaveKeyWithValue("racer-third", BeNumerically(">", 0)), "the third manager handed out no ID: there was no race")
		stopThird()
		stopManager = stopSecond
	})

	It("gives a restored user its old ID back and raises the counter above it", func() {
		name := uniq("restored")
		Expect(k8sClient.Create(suiteCtx, newUser(name))).To(Succeed())
		var id int64
		Eventually(func(g Gomega) {
			id = userIDsByName(g, []string{name})[name]
		}).Should(Succeed())

		By("wiping the user's status")
		Expect(k8sClient.Status().Patch(suiteCtx, newUser(name), client.RawPatch(types.MergePatchType, []byte(`{"status":null}`)))).To(Succeed())
		Eventually(func(g Gomega) {
			u := &iamv1alpha1.User{}
			g.Expect(k8sClient.Get(suiteCtx, key(name), u)).To(Succeed())
			g.Expect(u.Status.ID).To(Equal(id))
			g.Expect(u.Status.DateJoined).NotTo(BeNil())
			expectReady(g, u.Status.Conditions, u.Generation, u.Status.ObservedGeneration)
		}).Should(Succeed())

		By("recreating the user from a backup that kept metadata but not status")
		Expect(k8sClient.Delete(suiteCtx, newUser(name))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(name), &iamv1alpha1.User{})).To(MatchError(ContainSubstring("not found")))
		}).Should(Succeed())
		restored := newUser(name)
		restored.Annotations = map[string]string{AnnotationID: strconv.FormatInt(id, 10)}
		Expect(k8sClient.Create(suiteCtx, restored)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(userIDsByName(g, []string{name})[name]).To(Equal(id))
		}).Should(Succeed())

		By("restoring into a cluster whose counter is behind the restored ID")
		Eventually(func(g Gomega) {
			cm := &corev1.ConfigMap{}
			g.Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: testNamespace, Name: CounterConfigMapName}, cm)).To(Succeed())
			cm.Data[userIDs.key] = "5"
			g.Expect(k8sClient.Update(suiteCtx, cm)).To(Succeed())
		}).Should(Succeed())
		ahead := uniq("restored")
		aheadID := id + 100000
		u := newUser(ahead)
		u.Annotations = map[string]string{AnnotationID: strconv.FormatInt(aheadID, 10)}
		Expect(k8sClient.Create(suiteCtx, u)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(userIDsByName(g, []string{ahead})[ahead]).To(Equal(aheadID))
			g.Expect(counterValue(g, userIDs.key)).To(BeNumerically(">=", aheadID))
		}).Should(Succeed())
		fresh := uniq("fresh")
		Expect(k8sClient.Create(suiteCtx, newUser(fresh))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(userIDsByName(g, []string{fresh})[fresh]).To(BeNumerically(">", aheadID))
		}).Should(Succeed())
	})

	It("does not let a copied ID annotation take another user's ID", func() {
		original, copied := uniq("u"), uniq("u")
		Expect(k8sClient.Create(suiteCtx, newUser(original))).To(Succeed())
		var id int64
		Eventually(func(g Gomega) {
			id = userIDsByName(g, []string{original})[original]
		}).Should(Succeed())
		u := newUser(copied)
		u.Annotations = map[string]string{AnnotationID: strconv.FormatInt(id, 10)}
		Expect(k8sClient.Create(suiteCtx, u)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(suiteCtx, key(copied), u)).To(Succeed())
			g.Expect(u.Status.ID).To(BeNumerically(">", 0))
			g.Expect(u.Status.ID).NotTo(Equal(id))
			g.Expect(u.Annotations[AnnotationID]).To(Equal(strconv.FormatInt(u.Status.ID, 10)))
			g.Expect(hasEvent(g, copied, corev1.EventTypeWarning, ReasonIDConflict,
				`ID `+strconv.FormatInt(id, 10)+` in annotation `+AnnotationID+` is already held by "`+original+`"; allocating a new ID`)).To(BeTrue())
		}).Should(Succeed())
	})

	It("gives organizations their own sequence", func() {
		a, b := uniq("o"), uniq("o")
		Expect(k8sClient.Create(suiteCtx, newOrg(a, ""))).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, newOrg(b, ""))).To(Succeed())
		Eventually(func(g Gomega) {
			oa, ob := &iamv1alpha1.Organization{}, &iamv1alpha1.Organization{}
			g.Expect(k8sClient.Get(suiteCtx, key(a), oa)).To(Succeed())
			g.Expect(k8sClient.Get(suiteCtx, key(b), ob)).To(Succeed())
			g.Expect(oa.Status.ID).To(BeNumerically(">", 0))
			g.Expect(ob.Status.ID).To(BeNumerically(">", 0))
			g.Expect(oa.Status.ID).NotTo(Equal(ob.Status.ID))
			g.Expect(counterValue(g, organizationIDs.key)).To(BeNumerically(">=", max(oa.Status.ID, ob.Status.ID)))
		}).Should(Succeed())
	})
})
