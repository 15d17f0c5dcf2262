package directory

import (
	"fmt"
	"k8s.io/component-base/metrics/testutil"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authentication/user"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/apiserver/query"
)

func newTestWatcher(in int) *watcher {
	return &watcher{in: make(chan change, in), stream: newStream(0, "users")}
}

func TestSlowWatcherIsClosedWithoutBlockingOthers(t *testing.T) {
	g := NewWithT(t)
	h := newHub(16)
	slow, fast := newTestWatcher(2), newTestWatcher(16)
	_, _, _, ok := h.subscribe(slow, 0)
	g.Expect(ok).To(BeTrue())
	_, _, _, ok = h.subscribe(fast, 0)
	g.Expect(ok).To(BeTrue())

	for rv := uint64(1); rv <= 5; rv++ {
		h.publish(change{kind: kindUser, user: "u", rv: rv, apply: func(*query.Index) {}}, query.NewIndex().Snapshot)
	}

	g.Expect(slow.lagging).To(BeClosed(), "a watcher that fell behind is told to list again")
	g.Expect(fast.in).To(HaveLen(5), "the other watcher got every change")
	g.Expect(fast.lagging).NotTo(BeClosed())
	g.Expect(h.watchers).NotTo(HaveKey(slow))
}

func TestWatchResumesOnlyWithinHistory(t *testing.T) {
	g := NewWithT(t)
	h := newHub(3)
	ix := query.NewIndex()
	h.startAt(10, ix.Snapshot())
	for rv := uint64(11); rv <= 15; rv++ {
		u := query.User{Name: fmt.Sprint("u", rv)}
		write := func(ix *query.Index) { ix.UpsertUser(u) }
		write(ix)
		h.publish(change{kind: kindUser, user: u.Name, rv: rv, apply: write}, ix.Snapshot)
	}

	_, _, _, ok := h.subscribe(newTestWatcher(8), 9)
	g.Expect(ok).To(BeFalse(), "before the cache's start there is no history")
	_, _, _, ok = h.subscribe(newTestWatcher(8), 11)
	g.Expect(ok).To(BeFalse(), "history holds only the last 3 changes")

	base, prefix, replay, ok := h.subscribe(newTestWatcher(8), 13)
	g.Expect(ok).To(BeTrue())
	g.Expect(replay).To(HaveLen(2))
	g.Expect(replay[0].rv).To(Equal(uint64(14)))
	g.Expect(prefix).To(HaveLen(1), "the change at 13, replayed on the base")
	fork := base.Fork()
	for _, c := range prefix {
		c.apply(fork)
	}
	at := fork.Snapshot()
	for rv := 11; rv <= 13; rv++ {
		_, found := at.User(fmt.Sprint("u", rv))
		g.Expect(found).To(BeTrue(), "u%d is in the index as it stood at 13", rv)
	}
	_, found := at.User("u14")
	g.Expect(found).To(BeFalse(), "u14 came after 13")
	_, found = ix.Snapshot().User("u11")
	g.Expect(found).To(BeTrue())
}

// A watcher whose client stops reading falls behind; once the client reads
// again it gets the events already queued, then a 410 telling it to list
// again, then the end of the stream (hardening 6).
func TestSlowWatcherEndsWithGone(t *testing.T) {
	g := NewWithT(t)
	d := &Directory{opts: Options{WatchBuffer: 2}, index: query.NewIndex(), hub: newHub(64)}
	d.hub.startAt(1, d.index.Snapshot())
	dropped := func() float64 {
		v, err := testutil.GetCounterMetricValue(watchersDropped.WithLabelValues("users"))
		g.Expect(err).NotTo(HaveOccurred())
		return v
	}
	open := func() float64 {
		v, err := testutil.GetGaugeMetricValue(watchersOpen.WithLabelValues("users"))
		g.Expect(err).NotTo(HaveOccurred())
		return v
	}
	droppedBefore, openBefore := dropped(), open()
	caller := &Caller{Caller: query.Caller{Admin: true}, Identity: &user.DefaultInfo{Name: "root"}}
	w, err := d.Watch(t.Context(), WatchRequest{
		Caller: caller, Request: &query.ListRequest{}, ResourceVersion: "1",
		View: func(u *iamv1alpha1.User, _ *Caller) k8sruntime.Object { return u },
	})
	g.Expect(err).NotTo(HaveOccurred())
	defer w.Stop()

	ww := w.(*watcher)
	for i := range 40 {
		u := &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("u", i)}}
		d.index.UpsertUser(query.User{Name: u.Name})
		write := func(ix *query.Index) { ix.UpsertUser(query.User{Name: u.Name}) }
		d.hub.publish(change{kind: kindUser, user: u.Name, obj: u, apply: write, rv: uint64(2 + i)}, d.index.Snapshot)
		// Let the watcher take the change while it can: it fills its
		// stream until the client's side is full, and only then falls behind.
		for deadline := time.Now().Add(20 * time.Millisecond); len(ww.in) > 0 && time.Now().Before(deadline); {
			runtime.Gosched()
		}
	}
	g.Eventually(ww.lagging).Should(BeClosed())
	g.Expect(dropped()).To(Equal(droppedBefore+1), "roster_directory_watchers_dropped_total counts the dropped watch")
	g.Expect(open()).To(Equal(openBefore+1), "the watch is open until the client has read its 410")

	var events []watch.Event
	timeout := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				done = true
				break
			}
			events = append(events, e)
		case <-timeout:
			t.Fatal("the stream did not end")
		}
	}
	g.Expect(len(events)).To(BeNumerically(">", cap(ww.out)), "the events queued before the watcher fell behind")
	g.Expect(open()).To(Equal(openBefore), "the ended watch is no longer counted")
	last := events[len(events)-1]
	g.Expect(last.Type).To(Equal(watch.Error))
	status, ok := last.Object.(*metav1.Status)
	g.Expect(ok).To(BeTrue())
	g.Expect(status.Code).To(BeNumerically("==", 410))
	g.Expect(apierrors.IsResourceExpired(apierrors.FromObject(status))).To(BeTrue())
	for _, e := range events[:len(events)-1] {
		g.Expect(e.Type).To(Equal(watch.Added))
	}
}

// Before the index holds the informers' initial lists, a request for the
// directory's resources is a 503 with Retry-After, never a short list
// (issue: ready means complete).
func TestRequestsWaitForACompleteIndex(t *testing.T) {
	g := NewWithT(t)
	d := &Directory{index: query.NewIndex(), hub: newHub(16)}
	reached := false
	h := d.Filter(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	req := httptest.NewRequest("GET", "/apis/directory.roster.dev/v1alpha1/users", nil)
	req = req.WithContext(genericrequest.WithRequestInfo(req.Context(), &genericrequest.RequestInfo{
		IsResourceRequest: true, APIGroup: "directory.roster.dev", APIVersion: "v1alpha1", Resource: "users", Verb: "list",
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	g.Expect(rec.Code).To(Equal(503))
	g.Expect(rec.Header().Get("Retry-After")).To(Equal("1"))
	g.Expect(rec.Body.String()).To(ContainSubstring("the directory is still loading its index; retry in a moment"))
	g.Expect(reached).To(BeFalse())

	d.started = true
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	g.Expect(reached).To(BeTrue(), "once complete, requests go through")
}
