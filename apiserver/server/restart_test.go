package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/internal/testenv"
)

// Ready means complete: a directory that restarts (a rolling update) while
// clients list must never answer a list from a partial index. kube-apiserver
// answers 503 while the directory is down, and the directory itself answers
// 503 until its index holds the informers' initial lists.
var _ = Describe("A directory restart", Ordered, Serial, Label("restart"), func() {
	const users = 10000
	const label = "restart.test.roster.dev/bulk"

	It("never answers a list with a short count while it restarts at 10,000 users", func() {
		bulk := rest.CopyConfig(adminCfg)
		bulk.QPS, bulk.Burst = 5000, 10000
		c, err := client.New(bulk, client.Options{Scheme: testenv.Scheme})
		Expect(err).NotTo(HaveOccurred())
		// An administrator by group (system:masters): the answer does not
		// wait for the caller's own User to be indexed.
		hc, err := rest.HTTPClientFor(adminCfg)
		Expect(err).NotTo(HaveOccurred())
		url := strings.TrimSuffix(adminCfg.Host, "/") + base + "?page_size=1"
		// count lists once: the status code and, for a 200, the count.
		count := func() (int, int) {
			req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("Accept", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				return 0, 0 // the connection broke: no answer
			}
			defer resp.Body.Close()
			var l struct{ Count int }
			if resp.StatusCode == 200 {
				Expect(json.NewDecoder(resp.Body).Decode(&l)).To(Succeed())
			} else if resp.StatusCode != 503 {
				b, _ := io.ReadAll(resp.Body)
				GinkgoWriter.Printf("%d %s\n", resp.StatusCode, b)
			}
			return resp.StatusCode, l.Count
		}
		_, before := count()

		By(fmt.Sprintf("creating %d users", users))
		DeferCleanup(func() {
			Expect(c.DeleteAllOf(ctx, &iamv1alpha1.User{}, client.MatchingLabels{label: "true"})).To(Succeed())
			Eventually(func() int { _, n := count(); return n }, 2*time.Minute).Should(Equal(before))
		})
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				defer GinkgoRecover()
				for i := int(next.Add(1)); i <= users; i = int(next.Add(1)) {
					u := &iamv1alpha1.User{
						ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("restart-%05d", i), Labels: map[string]string{label: "true"}},
						Spec:       iamv1alpha1.UserSpec{FirstName: "Re", LastName: "Start"},
					}
					Expect(c.Create(ctx, u)).To(Succeed())
				}
			})
		}
		wg.Wait()
		total := before + users
		Eventually(func() int { _, n := count(); return n }, 2*time.Minute).Should(Equal(total))

		By("restarting the directory while two clients list")
		var mu sync.Mutex
		codes := map[int]int{}
		var short []int
		var answeredAfter atomic.Bool
		restarted := make(chan struct{})
		stop := make(chan struct{})
		var pollers sync.WaitGroup
		for range 2 {
			pollers.Go(func() {
				defer GinkgoRecover()
				for {
					select {
					case <-stop:
						return
					default:
					}
					code, n := count()
					mu.Lock()
					codes[code]++
					if code == 200 && n != total {
						short = append(short, n)
					}
					mu.Unlock()
					select {
					case <-restarted:
						if code == 200 {
							answeredAfter.Store(true)
						}
					default:
					}
				}
			})
		}
		answered := func() int {
			mu.Lock()
			defer mu.Unlock()
			return codes[200]
		}
		Eventually(answered).Should(BeNumerically(">", 0), "the clients list before the restart")
		Expect(stack.RestartDirectory(ctx)).To(Succeed())
		close(restarted)
		Eventually(answeredAfter.Load, time.Minute).Should(BeTrue(), "the restarted directory answers")
		// Keep listing while the restarted directory settles.
		settled := answered() + 20
		Eventually(answered).Should(BeNumerically(">=", settled))
		close(stop)
		pollers.Wait()
		GinkgoWriter.Printf("answers while restarting, by status code: %v\n", codes)
		Expect(short).To(BeEmpty(), "lists answered 200 with a count short of %d", total)
		Expect(codes[200]).To(BeNumerically(">", 0))
		// Not a 403 either: before the restarted server knows kube-apiserver's
		// front-proxy CA, a proxied caller would be taken for an anonymous one.
		for code := range codes {
			Expect(code).To(BeElementOf(0, 200, 503), "an answer while restarting was a %d (0: no answer)", code)
		}
	})
})
