package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// event is one watch event as the client sees it.
type event struct {
	Type   string
	Name   string
	RV     string
	Object map[string]any
}

// stream collects the events of a watch through kube-apiserver.
type stream struct {
	mu     sync.Mutex
	events []event
	code   int
	cancel func()
	done   bool
}

// ended reports whether the server ended the stream.
func (s *stream) ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

func (s *stream) Events() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event(nil), s.events...)
}

// summary renders the events as "TYPE name" lines.
func (s *stream) summary() []string {
	var out []string
	for _, e := range s.Events() {
		out = append(out, e.Type+" "+e.Name)
	}
	return out
}

func watchUsers(cfg *rest.Config, query string) *stream {
	GinkgoHelper()
	return watchPath(cfg, base, query)
}

// watchPath watches the resource at path through kube-apiserver.
func watchPath(cfg *rest.Config, path, query string) *stream {
	GinkgoHelper()
	hc, err := rest.HTTPClientFor(cfg)
	Expect(err).NotTo(HaveOccurred())
	wctx, cancel := ctxWithCancel()
	req, err := http.NewRequestWithContext(wctx, "GET", strings.TrimSuffix(cfg.Host, "/")+path+"?watch=1&"+query, nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	Expect(err).NotTo(HaveOccurred())
	s := &stream{code: resp.StatusCode, cancel: cancel}
	DeferCleanup(func() { cancel(); _ = resp.Body.Close() })
	go func() {
		defer GinkgoRecover()
		dec := json.NewDecoder(resp.Body)
		for {
			var raw struct {
				Type   string         `json:"type"`
				Object map[string]any `json:"object"`
			}
			if err := dec.Decode(&raw); err != nil {
				s.mu.Lock()
				s.done = true
				s.mu.Unlock()
				return
			}
			md, _ := raw.Object["metadata"].(map[string]any)
			name, _ := md["name"].(string)
			rv, _ := md["resourceVersion"].(string)
			s.mu.Lock()
			s.events = append(s.events, event{Type: raw.Type, Name: name, RV: rv, Object: raw.Object})
			s.mu.Unlock()
		}
	}()
	return s
}

var _ = Describe("Watch", func() {
	BeforeEach(func() { makeOrg("wlab", 50) })

	It("sends the visible users, then ADDED and DELETED as memberships change what the caller may see", func() {
		makeUser("w-watcher", 201, "wlab")
		makeUser("w-peer", 202)
		s := watchUsers(as("w-watcher"), "")
		Expect(s.code).To(Equal(200))
		Eventually(s.summary).Should(Equal([]string{"ADDED w-watcher"}))

		By("sharing an organization")
		Expect(createMembership(seat{"wlab", "w-peer", iamv1alpha1.RoleWorker, false})).To(Succeed())
		Eventually(s.summary).Should(Equal([]string{"ADDED w-watcher", "ADDED w-peer"}))
		added := s.Events()[1].Object
		Expect(added).NotTo(HaveKey("email"), "another user comes in the basic view")

		By("changing the visible user")
		Expect(k8sClient.Patch(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "w-peer"}},
			client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"firstName":"Pat"}}`)))).To(Succeed())
		Eventually(s.summary).Should(Equal([]string{"ADDED w-watcher", "ADDED w-peer", "MODIFIED w-peer"}))

		By("leaving the organization")
		Expect(deleteMembership("wlab", "w-peer")).To(Succeed())
		Eventually(s.summary).Should(Equal([]string{"ADDED w-watcher", "ADDED w-peer", "MODIFIED w-peer", "DELETED w-peer"}))

		By("changes of users the caller may not see send nothing")
		Expect(k8sClient.Patch(ctx, &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "w-peer"}},
			client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"firstName":"Quiet"}}`)))).To(Succeed())
		Consistently(s.summary, 500*time.Millisecond).Should(HaveLen(4))
	})

	It("answers 410 Gone for a resourceVersion it can no longer serve", func() {
		r := do(as("alice"), "GET", base+"?watch=1&resourceVersion=1", nil)
		Expect(r.Code).To(Equal(410), string(r.Body))
		Expect(r.Message()).To(Equal("too old resource version: 1"))
	})

	It("resumes from a recent resourceVersion without sending the initial state again", func() {
		makeUser("w-resume", 203, "wlab")
		rv := do(as("w-resume"), "GET", base, nil).JSON()["metadata"].(map[string]any)["resourceVersion"].(string)
		s := watchUsers(as("w-resume"), "resourceVersion="+rv)
		makeUser("w-later", 204, "wlab")
		Eventually(s.summary).Should(ContainElement("ADDED w-later"))
		Expect(s.summary()).NotTo(ContainElement("ADDED w-resume"))
	})

	It("implements sendInitialEvents with a bookmark that ends the initial state", func() {
		makeUser("w-initial", 205, "wlab")
		s := watchUsers(as("w-initial"), "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
		Expect(s.code).To(Equal(200))
		Eventually(func(g Gomega) {
			ev := s.Events()
			g.Expect(ev).To(HaveLen(2))
			g.Expect(ev[0].Type + " " + ev[0].Name).To(Equal("ADDED w-initial"))
			g.Expect(ev[1].Type).To(Equal("BOOKMARK"))
			md := ev[1].Object["metadata"].(map[string]any)
			g.Expect(md["annotations"]).To(HaveKeyWithValue(metav1.InitialEventsAnnotationKey, "true"))
		}).Should(Succeed())
	})

	It("drives kubectl get users -w", func() {
		makeUser("w-kube", 206, "wlab")
		wctx, cancel := ctxWithCancel()
		DeferCleanup(cancel)
		cmd := kubectlCmd(wctx, as("w-kube"), "get", "users", "-w", "--output-watch-events")
		stdout, stderr := gbytes.NewBuffer(), gbytes.NewBuffer()
		cmd.Stdout, cmd.Stderr = stdout, stderr
		Expect(cmd.Start()).To(Succeed())
		DeferCleanup(func() { cancel(); _ = cmd.Wait() })
		seen := func() string { return string(stdout.Contents()) }
		Eventually(seen).Should(MatchRegexp(`(?m)^ADDED\s+w-kube\s+206\s`), func() string { return string(stderr.Contents()) })
		makeUser("w-kube-peer", 207, "wlab")
		// The peer appears when its membership does. The informers of users
		// and memberships deliver independently, so the membership may come
		// before the user's ID: then it is ADDED without it and MODIFIED
		// with it, as a watch of the index at each moment must say.
		Eventually(seen).Should(MatchRegexp(`(?m)^ADDED\s+w-kube-peer\s`), func() string { return string(stderr.Contents()) })
		Eventually(seen).Should(MatchRegexp(`(?m)^(ADDED|MODIFIED)\s+w-kube-peer\s+207\s`), func() string { return string(stderr.Contents()) })
	})
})
